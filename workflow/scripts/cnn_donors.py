"""Per-donor predicted multipotent fraction with bootstrap intervals (rule cnn_donors, paper Fig. 4F)."""

import json
from pathlib import Path

import pandas as pd

from morphopotency.cnn.donors import adjusted_fractions, donor_fractions, fraction_validation
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.cnn import donor_bars
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_donors")
p = snakemake.params
cells = pd.read_csv(snakemake.input.predictions, sep="\t", dtype={"donor": str, "image": str})
# Each prediction table carries the cut-off its model decided with (fixed, or chosen on validation cells).
table = donor_fractions(cells, cells["prob"].to_numpy(), cells["threshold"].to_numpy(), p.bootstrap, p.seed)
# The same fraction over the final model's held-out test cells only, for readers wary of training cells.
held_out = cells[cells["role"] == "test"].assign(called=lambda t: t["prob"] >= t["threshold"])
table = table.merge(
    held_out.groupby("donor")
    .agg(test_cells=("prob", "size"), test_predicted_fraction=("called", "mean"))
    .reset_index(),
    on="donor",
    how="left",
)
# Leakage-safe estimate: each cell scored by the selected backbone's cross-validation model whose
# training never saw the cell's image (or donor), so no donor's fraction leans on memorised labels.
backbone = json.loads(Path(snakemake.input.selected).read_text())["backbone"]
cv = pd.read_csv(snakemake.input.cv_predictions, sep="\t", dtype={"donor": str, "image": str})
cv = cv[cv["model"] == backbone]
held_out_table = donor_fractions(cv, cv["prob"].to_numpy(), cv["threshold"].to_numpy(), p.bootstrap, p.seed)
table = table.merge(
    held_out_table[["donor", "cells", "predicted_multipotent_fraction", "ci_low", "ci_high"]].rename(
        columns={
            "cells": "cv_cells",
            "predicted_multipotent_fraction": "cv_predicted_fraction",
            "ci_low": "cv_ci_low",
            "ci_high": "cv_ci_high",
        }
    ),
    on="donor",
    how="left",
)
# Prevalence estimates that undo the pull of classify-and-count towards the training prevalence, each
# donor's error rates measured on the other donors' held-out cells (morphopotency.score.prevalence).
table = table.merge(adjusted_fractions(cv, n_boot=p.bootstrap, seed=p.seed), on="donor", how="left")
write_tsv(table, snakemake.output.table)
# How close each fraction comes to the SSEA3 fraction of donors whose cells the models never trained on.
write_tsv(fraction_validation(table), snakemake.output.validation)
save_figure(donor_bars(table), snakemake.output.figure)
log.info("donor fractions:\n%s", table.to_string())
