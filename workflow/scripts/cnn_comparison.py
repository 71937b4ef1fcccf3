"""Backbone comparison over the folds (paper Table 1), baselines on the same folds, and the backbone the
final model uses (rule cnn_comparison)."""

import json

import numpy as np
import pandas as pd

from morphopotency.cnn import data
from morphopotency.cnn.metrics import baseline_predictions, classification_metrics, comparison_table
from morphopotency.io.atomic import atomic_path
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.cnn import roc_curves
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_comparison")
p = snakemake.params
predictions = pd.concat([pd.read_csv(f, sep="\t", dtype={"donor": str, "image": str}) for f in snakemake.input.predictions], ignore_index=True)
per_fold = pd.DataFrame([{"model": m, "fold": f, "cells": len(g), **classification_metrics(g["label"], g["prob"], p.threshold)} for (m, f), g in predictions.groupby(["model", "fold"], sort=False)])
comparison = comparison_table(per_fold)

# Baselines on exactly the CNN's folds: trained on train + validation cells, scored on the test cells.
cells = data.load(snakemake.input.crops, snakemake.input.cells)
splits = pd.read_csv(snakemake.input.splits, sep="\t")
features = cells.cells[[c for c in data.SHAPE_FEATURES if c in cells.cells]]
rows, pooled = [], []
for fold, part in splits.groupby("fold"):
    fit = part.loc[part["role"] != "test", "cell"].to_numpy()
    test = part.loc[part["role"] == "test", "cell"].to_numpy()
    for name, prob in baseline_predictions(features, cells.labels, fit, test).items():
        rows.append({"model": name, "fold": fold, "cells": len(test), **classification_metrics(cells.labels[test], prob, p.threshold)})
        pooled.append(pd.DataFrame({"model": name, "label": cells.labels[test], "prob": prob}))
baseline_folds = pd.DataFrame(rows)
pooled = pd.concat([pd.concat(pooled), predictions[["model", "label", "prob"]]], ignore_index=True)
baselines = comparison_table(pd.concat([per_fold, baseline_folds], ignore_index=True))
pooled_metrics = pd.DataFrame([{"model": m, **classification_metrics(g["label"], g["prob"], p.threshold)} for m, g in pooled.groupby("model", sort=False)])
baselines = baselines.merge(pooled_metrics[["model", "roc_auc", "balanced_accuracy"]].rename(columns=lambda c: c if c == "model" else f"pooled_{c}"), on="model")

if p.final_backbone == "auto":
    chosen = comparison.sort_values(f"{p.select_by}_mean", ascending=False, kind="stable").iloc[0]["model"]
else:
    if p.final_backbone not in p.backbones:
        raise ValueError(f"cnn.final_backbone {p.final_backbone!r} is not among cnn.backbones ({', '.join(p.backbones)})")
    chosen = p.final_backbone
comparison["selected"] = comparison["model"] == chosen

write_tsv(comparison, snakemake.output.comparison)
write_tsv(pd.concat([per_fold, baseline_folds], ignore_index=True), snakemake.output.per_fold)
write_tsv(predictions, snakemake.output.predictions)
write_tsv(baselines, snakemake.output.baselines)
save_figure(roc_curves(predictions), snakemake.output.roc)
with atomic_path(snakemake.output.selected) as tmp:
    tmp.write_text(json.dumps({"backbone": chosen, "select_by": p.select_by if p.final_backbone == "auto" else "config"}, indent=2) + "\n")
log.info("comparison:\n%s\nbaselines:\n%s\nselected %s", comparison.to_string(), baselines[["model", "balanced_accuracy", "roc_auc", "pooled_roc_auc"]].to_string(), chosen)
