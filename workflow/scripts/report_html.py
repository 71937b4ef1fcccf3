"""The self-contained donor report (rule report_html)."""

from datetime import datetime
from pathlib import Path

import pandas as pd

from morphopotency.io.atomic import atomic_path
from morphopotency.prevalence import choose_estimator
from morphopotency.provenance import config_hash, git_commit, package_versions, run_span
from morphopotency.report.build import build_report, provenance_section
from morphopotency.report.choices import beyond_paper
from morphopotency.report.study import read_study
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "report_html")
p = snakemake.params
config = p.config
sentences = pd.read_csv(snakemake.input.sentences, sep="\t", dtype=str)
donors = sorted(sentences["donor"])
provenance = provenance_section(
    config,
    config_hash(config),
    git_commit(p.basedir),
    package_versions(),
    pd.read_csv(snakemake.input.manifest, sep="\t"),
    run_span(sorted(Path(p.log_dir).rglob("*.log"))),
    datetime.now().isoformat(sep=" ", timespec="seconds"),
)
choices = beyond_paper(config)
study = read_study(snakemake.input.study)
if study is not None and config["cnn"]["enabled"]:
    cnn = config["cnn"]
    cross = cnn["lodo"] and cnn["data"]["source"] == "imaging"
    estimator = choose_estimator(config["score"]["estimator"], None, cross_fitted=cross)[0]
    choices.append(f"How accurate a new lot's score ({estimator}) is. " + study.sentence(estimator))
page = build_report(
    "morphopotency donor report",
    f"Donors {', '.join(donors)}: multipotency from single-cell shape, checked against the transcriptome "
    "(after Kim et al., Sci. Rep. 2023).",
    p.sections,
    config,
    p.basedir,
    sentences,
    choices,
    provenance,
    pd.read_csv(snakemake.input.unavailable, sep="\t", dtype=str),
)
with atomic_path(snakemake.output.html) as tmp:
    tmp.write_text(page, encoding="utf-8")
log.info("%d sections, %d bytes", len(p.sections) + 1, len(page))
