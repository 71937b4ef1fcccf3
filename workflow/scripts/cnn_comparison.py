"""Backbone comparison over the folds (paper Table 1) and baselines on the same folds (rule
cnn_comparison).
"""

import json
from pathlib import Path

import pandas as pd

from morphopotency.cnn import data
from morphopotency.cnn.metrics import (
    baseline_cv_predictions,
    comparison_table,
    fold_metrics,
    paired_differences,
    pooled_metrics,
    read_predictions,
)
from morphopotency.features import SHAPE_FEATURES
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.cnn import roc_curves
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_comparison")
p = snakemake.params
predictions = read_predictions(snakemake.input.predictions)
# Baselines on exactly the CNN's folds, scored like the CNN (Table 1 rows for the CNN backbones only).
cells = data.load(snakemake.input.crops, snakemake.input.cells)
features = cells.cells[[c for c in SHAPE_FEATURES if c in cells.cells]]
baseline = baseline_cv_predictions(features, cells.labels, pd.read_csv(snakemake.input.splits, sep="\t"))
# The baselines decide at P 0.5: the logistic regression is class-balanced, so that is its balanced cut-off.
every = pd.concat(
    [predictions[[*baseline.columns, "threshold"]], baseline.assign(threshold=0.5)], ignore_index=True
)
per_fold = fold_metrics(every)
comparison = comparison_table(per_fold[per_fold["model"].isin(predictions["model"])])
baselines = comparison_table(per_fold).merge(pooled_metrics(every), on="model")
chosen = json.loads(Path(snakemake.input.selected).read_text())["backbone"]
comparison["selected"] = comparison["model"] == chosen
# Each backbone minus each baseline on the same held-out cells, with a paired bootstrap interval.
versus = paired_differences(
    every,
    list(predictions["model"].unique()),
    list(baseline["model"].unique()),
    n_boot=p.bootstrap,
    seed=p.seed,
)

write_tsv(comparison, snakemake.output.comparison)
write_tsv(per_fold, snakemake.output.per_fold)
write_tsv(predictions, snakemake.output.predictions)
write_tsv(baselines, snakemake.output.baselines)
write_tsv(versus, snakemake.output.versus)
save_figure(roc_curves(predictions), snakemake.output.roc)
log.info(
    "comparison:\n%s\nbaselines:\n%s\npaired differences:\n%s\nselected %s",
    comparison.to_string(),
    baselines[["model", "balanced_accuracy", "roc_auc", "pooled_roc_auc"]].to_string(),
    versus[["model", "baseline", "metric", "difference", "ci_low", "ci_high"]].to_string(),
    chosen,
)
