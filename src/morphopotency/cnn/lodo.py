"""Leave-one-donor-out validation of the donor fractions a scoring run reports: each reference donor's
fraction estimated by a model trained without any of its cells, with that model's own error rates from
its own validation cells, exactly as a new donor is scored with the bundle's final model."""

from __future__ import annotations

import pandas as pd

from morphopotency.cnn.donors import error_summary
from morphopotency.score.prevalence import Reference, bootstrap_interval, estimate

METHODS = ("cc", "pcc", "acc", "pacc", "em")


def lodo_fractions(
    predictions: pd.DataFrame, methods: tuple[str, ...] = METHODS, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """One row per held-out donor and estimator from the LODO models' predictions (columns held_out,
    role val/test, label, prob, threshold, train_prevalence): estimate, 95 % interval (bootstrap over the
    model's validation cells and the donor's cells) and the donor's SSEA3-positive fraction."""
    rows = []
    for donor, part in predictions.groupby("held_out", sort=True):
        val, test = part[part["role"] == "val"], part[part["role"] == "test"]
        cut = float(part["threshold"].iloc[0])
        reference = Reference(
            val["label"].to_numpy().astype(int),
            val["prob"].to_numpy(float),
            cut,
            float(part["train_prevalence"].iloc[0]),
        )
        prob = test["prob"].to_numpy(float)
        for method in methods:
            low, high = bootstrap_interval(method, reference, prob, cut, n_boot=n_boot, seed=seed)
            rows.append(
                {
                    "donor": donor,
                    "estimator": method,
                    "cells": len(test),
                    "fraction": estimate(method, reference, prob, cut),
                    "ci_low": low,
                    "ci_high": high,
                    "ssea3_positive_fraction": float(test["label"].mean()),
                }
            )
    return pd.DataFrame(rows)


def lodo_validation(fractions: pd.DataFrame) -> pd.DataFrame:
    """Per estimator: mean absolute, maximum and mean signed error against the SSEA3 fractions, Spearman's
    rho, and how many donors' intervals cover their SSEA3 fraction."""
    rows = [
        error_summary(
            method, part["fraction"], part["ci_low"], part["ci_high"], part["ssea3_positive_fraction"]
        )
        for method, part in fractions.groupby("estimator", sort=False)
    ]
    return pd.DataFrame(rows)
