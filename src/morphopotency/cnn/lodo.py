"""Leave-one-donor-out validation of the donor fractions a scoring run reports: each reference donor's
fraction estimated by a model trained without any of its cells, with that model's own error rates from
its own validation cells, exactly as a new donor is scored with the bundle's final model.

The held-out donors only span the reference cohort's range, close to the training prevalence where
counting calls is least biased, while a new lot may lie anywhere. So each held-out donor's cells are also
redrawn at artificial prevalences from 0.05 to 0.95 (the artificial-prevalence protocol of the
quantification literature, QuaPy's APP) and estimated again: the sweep shows each estimator's error over
the whole range, and ``score.estimator: auto`` chooses by it.

The same models measure the donor shift (``donor_shift``): how much the recipe's error rates move from
held-out images of the donors it trained on to a donor it never saw. The *_donor estimators use it; a
held-out donor's own estimate uses only the shift measured on the other donors (nested), so its cells
never inform the correction applied to them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from morphopotency.cnn.donors import error_summary
from morphopotency.prevalence import DonorShift, Reference, bootstrap_interval, estimate

METHODS = ("cc", "pcc", "acc", "pacc", "em", "acc_donor", "pacc_donor")
PREVALENCES = tuple(round(0.05 + 0.1 * i, 2) for i in range(10))


def _reference(part: pd.DataFrame, shift: DonorShift | None = None) -> Reference:
    val = part[part["role"] == "val"]
    return Reference(
        val["label"].to_numpy().astype(int),
        val["prob"].to_numpy(float),
        float(part["threshold"].iloc[0]),
        float(part["train_prevalence"].iloc[0]),
        shift,
    )


def _rates(cells: pd.DataFrame, cut: float) -> np.ndarray:
    """tpr, fpr, mean probability of positives and of negatives; NaN for a class the cells lack."""
    labels, prob = cells["label"].to_numpy().astype(bool), cells["prob"].to_numpy(float)
    calls = (prob >= cut).astype(float)
    return np.array(
        [v[sel].mean() if sel.any() else np.nan for v in (calls, prob) for sel in (labels, ~labels)]
    )


def donor_shift(predictions: pd.DataFrame) -> DonorShift:
    """Per LODO model: its rates on its held-out donor's cells minus those on its validation cells."""
    donors, rows = [], []
    for donor, part in predictions.groupby("held_out", sort=True):
        cut = float(part["threshold"].iloc[0])
        rows.append(_rates(part[part["role"] == "test"], cut) - _rates(part[part["role"] == "val"], cut))
        donors.append(str(donor))
    values = np.asarray(rows, float).reshape(-1, 4)
    return DonorShift(np.asarray(donors, dtype=object), *values.T)


def lodo_fractions(
    predictions: pd.DataFrame, methods: tuple[str, ...] = METHODS, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """One row per held-out donor and estimator from the LODO models' predictions (columns held_out,
    role val/test, label, prob, threshold, train_prevalence): estimate, 95 % interval (bootstrap over the
    model's validation cells and the donor's cells) and the donor's SSEA3-positive fraction."""
    rows, shift = [], donor_shift(predictions)
    for donor, part in predictions.groupby("held_out", sort=True):
        test, reference = part[part["role"] == "test"], _reference(part, shift.without(str(donor)))
        cut = float(reference.threshold)
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


def prevalence_sweep(
    predictions: pd.DataFrame,
    methods: tuple[str, ...] = METHODS,
    prevalences: tuple[float, ...] = PREVALENCES,
    repeats: int = 20,
    seed: int = 0,
) -> pd.DataFrame:
    """Per estimator and artificial prevalence: mean absolute and mean signed error over every held-out
    donor x ``repeats`` draws. A draw takes the donor's own number of cells, round(prevalence x n) from
    its SSEA3-positive cells and the rest from its negative ones (with replacement), and is estimated
    with the donor's LODO model and that model's reference cells, as the donor itself was."""
    rng, shift = np.random.default_rng(seed), donor_shift(predictions)
    errors: dict[tuple[str, float], list[float]] = {(m, p): [] for m in methods for p in prevalences}
    for donor, part in predictions.groupby("held_out", sort=True):
        test, reference = part[part["role"] == "test"], _reference(part, shift.without(str(donor)))
        labels, prob = test["label"].to_numpy().astype(bool), test["prob"].to_numpy(float)
        if labels.all() or not labels.any():
            continue  # a donor of one class cannot be redrawn at another prevalence
        n = len(prob)
        for prevalence in prevalences:
            positives = int(round(prevalence * n))
            for _ in range(repeats):
                draw = np.concatenate(
                    [
                        rng.choice(prob[labels], positives, replace=True),
                        rng.choice(prob[~labels], n - positives, replace=True),
                    ]
                )
                for method in methods:
                    errors[(method, prevalence)].append(estimate(method, reference, draw) - positives / n)
    rows = [
        {
            "estimator": method,
            "prevalence": prevalence,
            "draws": len(err),
            "mean_abs_error": float(np.nanmean(np.abs(err))) if len(err) else np.nan,
            "mean_signed_error": float(np.nanmean(err)) if len(err) else np.nan,
        }
        for (method, prevalence), err in errors.items()
    ]
    return pd.DataFrame(rows)


def lodo_validation(fractions: pd.DataFrame, sweep: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per estimator: mean absolute, maximum and mean signed error against the SSEA3 fractions, Spearman's
    rho, how many donors' intervals cover their SSEA3 fraction, and (given the sweep) the mean absolute
    error over the artificial prevalences 0.05-0.95 and the bias there: the mean over prevalences of the
    absolute mean signed error, which a pull (negative at one end, positive at the other) cannot hide."""
    rows = [
        error_summary(
            method, part["fraction"], part["ci_low"], part["ci_high"], part["ssea3_positive_fraction"]
        )
        for method, part in fractions.groupby("estimator", sort=False)
    ]
    table = pd.DataFrame(rows)
    if sweep is not None:
        table["sweep_mean_abs_error"] = table["estimator"].map(
            sweep.groupby("estimator")["mean_abs_error"].mean()
        )
        table["sweep_bias"] = table["estimator"].map(
            sweep.assign(bias=sweep["mean_signed_error"].abs()).groupby("estimator")["bias"].mean()
        )
    return table
