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
