"""Merge the learning-rate search repeats, fit the surrogate and pick the learning rate (rule
cnn_lr_summary).
"""

import json

import pandas as pd

from morphopotency.cnn.lr_search import best_learning_rate, surrogate
from morphopotency.io.atomic import atomic_path
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.cnn import lr_surrogate, roc_auc_per_iteration
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_lr_summary")
p = snakemake.params
trials = pd.concat([pd.read_csv(f, sep="\t") for f in snakemake.input.trials], ignore_index=True)
curve = surrogate(trials, p.low, p.high, seed=p.seed)
best = best_learning_rate(trials)
write_tsv(trials, snakemake.output.trials)
write_tsv(curve, snakemake.output.surrogate)
with atomic_path(snakemake.output.best) as tmp:
    tmp.write_text(
        json.dumps(
            {
                "learning_rate": best,
                "backbone": str(trials["backbone"].iloc[0]),
                "val_loss": float(trials["val_loss"].min()),
                "surrogate_minimum_learning_rate": float(curve.loc[curve["mean"].idxmin(), "learning_rate"]),
                "trials": len(trials),
            },
            indent=2,
        )
        + "\n"
    )
save_figure(lr_surrogate(curve, trials), snakemake.output.surrogate_figure)
save_figure(roc_auc_per_iteration(trials), snakemake.output.roc_auc_figure)
log.info("%d trials; best learning rate %.3g (val loss %.4f)", len(trials), best, trials["val_loss"].min())
