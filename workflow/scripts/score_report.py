"""The QC report of a scoring run (rule score_report): results/report/score_report.html."""

from datetime import datetime

import pandas as pd

from morphopotency.io.atomic import atomic_path
from morphopotency.report.score import score_report
from morphopotency.report.study import read_study
from morphopotency.score.bundle import load
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "score_report")
read = lambda path: pd.read_csv(path, sep="\t", dtype={"donor": str})  # noqa: E731
page = score_report(
    read(snakemake.input.scores),
    read(snakemake.input.modes),
    snakemake.input.figure,
    load(snakemake.params.bundle),
    snakemake.params.score,
    datetime.now().isoformat(sep=" ", timespec="seconds"),
    known=read(snakemake.input.validation),
    precision=read(snakemake.input.precision),
    study=read_study(snakemake.input.study),
    modes_figure=snakemake.input.modes_figure,
)
with atomic_path(snakemake.output.html) as tmp:
    tmp.write_text(page, encoding="utf-8")
log.info("%d donors, %d bytes", len(read(snakemake.input.scores)), len(page))
