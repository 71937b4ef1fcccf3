"""Per-donor predicted multipotent fraction with a bootstrap interval (paper Fig. 4F)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def donor_fractions(
    cells: pd.DataFrame,
    prob: np.ndarray,
    threshold: float | np.ndarray = 0.5,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """donor, cells, predicted fraction (P ≥ threshold) and its percentile 95 % interval over cells
    resampled with replacement within the donor; the SSEA3-positive fraction beside it. ``threshold`` is
    one cut-off or one per cell (cells scored by models with their own cut-offs)."""
    rng = np.random.default_rng(seed)
    frame = cells[["donor", "label"]].assign(
        predicted=(np.asarray(prob) >= np.asarray(threshold)).astype(float), prob=np.asarray(prob)
    )
    rows = []
    for donor, part in frame.groupby("donor", sort=True):
        predicted = part["predicted"].to_numpy()
        boots = rng.choice(predicted, size=(n_boot, len(predicted)), replace=True).mean(axis=1)
        low, high = np.percentile(boots, [2.5, 97.5])
        rows.append(
            {
                "donor": donor,
                "cells": len(part),
                "predicted_multipotent_fraction": predicted.mean(),
                "ci_low": low,
                "ci_high": high,
                "mean_probability": part["prob"].mean(),
                "ssea3_positive_fraction": part["label"].mean(),
            }
        )
    return pd.DataFrame(rows)


def adjusted_fractions(
    cv: pd.DataFrame, methods: tuple[str, ...] = ("acc", "pacc", "em"), n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Per donor, each prevalence estimator on its cross-validated predictions (columns donor, label,
    prob, threshold), the classifier's error rates measured on the other donors' cells only: a donor's
    own SSEA3 labels never enter its estimate, as for a new donor. Columns cv_<method>_fraction, _low,
    _high, and the cells a new donor would need for +/- 0.05 at that fraction (adjusted count)."""
    from morphopotency.score.prevalence import Reference, bootstrap_interval, cells_needed, estimate

    rows = []
    for donor, part in cv.groupby("donor", sort=True):
        other = cv[cv["donor"] != donor]
        labels = other["label"].to_numpy().astype(int)
        reference = Reference(labels, other["prob"].to_numpy(), other["threshold"].to_numpy(), labels.mean())
        prob, cut = part["prob"].to_numpy(), part["threshold"].to_numpy()
        row: dict[str, object] = {"donor": donor}
        for method in methods:
            low, high = bootstrap_interval(method, reference, prob, cut, n_boot=n_boot, seed=seed)
            row |= {
                f"cv_{method}_fraction": estimate(method, reference, prob, cut),
                f"cv_{method}_low": low,
                f"cv_{method}_high": high,
            }
        fraction = row.get("cv_pacc_fraction", estimate("pacc", reference, prob, cut))
        row["cells_for_pm005"] = cells_needed(reference, 0.05, float(np.nan_to_num(fraction, nan=0.5)))
        rows.append(row)
    return pd.DataFrame(rows)
