"""Final model: the selected backbone at the searched learning rate, scored on its held-out test cells,
saved as safetensors + JSON, then run over every cell (rule cnn_final)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from morphopotency.cnn.job import prepare
from morphopotency.cnn.metrics import (
    classification_metrics,
    confusion_table,
    decision_threshold,
    outcome_labels,
)
from morphopotency.cnn.model import save_model
from morphopotency.cnn.settings import train_params
from morphopotency.cnn.train import predict_proba
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.cnn import confusion, example_grid
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_final")
cnn = snakemake.params.cnn
backbone = json.loads(Path(snakemake.input.selected).read_text())["backbone"]
learning_rate = json.loads(Path(snakemake.input.best).read_text())["learning_rate"]
inputs = snakemake.input
job = prepare(cnn, backbone, inputs.crops, inputs.cells, inputs.splits, cnn["final_fold"], snakemake.threads)
cells, crops, index, spec = job.cells, job.crops, job.index, job.spec
params = train_params(cnn, learning_rate=learning_rate)
log.info("final model %s, learning rate %.3g, on %s", backbone, learning_rate, job.device)
fit = job.train(params, snakemake.params.checkpoint, log)

every = np.arange(len(cells.cells))
prob = predict_proba(fit.model, crops, every, spec, cnn["batch_size"] * 2)
role = np.full(len(every), "", dtype=object)
for name, rows in index.items():
    role[rows] = name
# The decision cut-off: fixed, or chosen on the final split's validation cells (never its test cells).
threshold = decision_threshold(
    cnn["threshold"], cells.labels[index["val"]], predict_proba(fit.model, crops, index["val"], spec)
)
table = cells.cells[["donor", "image", "cell_id", "label"]].assign(
    cell=every, role=role, prob=prob, threshold=threshold
)
# Scored on their own (not picked out of the all-cell pass): batch composition moves CPU results in the
# 8th digit, and a user reloading the model scores exactly these cells this way.
test = table.iloc[index["test"]].copy()
test["prob"] = predict_proba(fit.model, crops, index["test"], spec)
test["outcome"] = outcome_labels(test["label"], test["prob"], threshold)
metrics = pd.DataFrame(
    [
        {
            "model": backbone,
            "learning_rate": learning_rate,
            "cells": len(test),
            **classification_metrics(test["label"], test["prob"], threshold),
            "threshold": threshold,
        }
    ]
)

save_model(
    fit.model,
    spec,
    snakemake.output.model,
    {
        "learning_rate": learning_rate,
        "best_epoch": fit.best_epoch,
        "threshold": threshold,
        "threshold_setting": cnn["threshold"],
        "pretrained": str(job.weights),
        "positive_class": "multipotent (SSEA3 above threshold)"
        if cnn["data"]["source"] == "imaging"
        else cnn["data"]["positive_class"],
        "train_params": params.__dict__,
        "split": {"fold": cnn["final_fold"], "group_by": cnn["group_by"]},
    },
)
write_tsv(fit.history, snakemake.output.history)
write_tsv(test, snakemake.output.test_predictions)
write_tsv(table, snakemake.output.cell_predictions)
write_tsv(metrics, snakemake.output.metrics)
matrix = confusion_table(test["label"], test["prob"], threshold)
write_tsv(matrix, snakemake.output.confusion, index=True)
save_figure(confusion(matrix), snakemake.output.confusion_figure)
# Most confident cells of each outcome first, so the grid shows what the model means by each class.
examples = test.assign(confidence=(test["prob"] - threshold).abs()).sort_values(
    ["outcome", "confidence"], ascending=[True, False], kind="stable"
)
write_tsv(examples, snakemake.output.examples)
save_figure(example_grid(cells.crops, examples), snakemake.output.examples_figure)
Path(snakemake.params.checkpoint).unlink(missing_ok=True)
log.info("test metrics: %s", metrics.iloc[0].to_dict())
