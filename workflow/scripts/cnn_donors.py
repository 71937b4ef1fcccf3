"""Per-donor predicted multipotent fraction with bootstrap intervals (rule cnn_donors, paper Fig. 4F)."""

import json
from pathlib import Path

import pandas as pd

from morphopotency.cnn.donors import donor_multipotency, fraction_validation
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.cnn import donor_bars
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_donors")
p = snakemake.params
cells = pd.read_csv(snakemake.input.predictions, sep="\t", dtype={"donor": str, "image": str})
backbone = json.loads(Path(snakemake.input.selected).read_text())["backbone"]
cv = pd.read_csv(snakemake.input.cv_predictions, sep="\t", dtype={"donor": str, "image": str})
table = donor_multipotency(cells, cv[cv["model"] == backbone], p.bootstrap, p.seed)
write_tsv(table, snakemake.output.table)
# How close each fraction comes to the SSEA3 fraction of donors whose cells the models never trained on.
write_tsv(fraction_validation(table), snakemake.output.validation)
save_figure(donor_bars(table), snakemake.output.figure)
if "reason" in table:
    log.warning("no per-donor fractions: %s", table["reason"].iloc[0])
log.info("donor fractions:\n%s", table.to_string())
