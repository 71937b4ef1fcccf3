"""Per-donor scores of a scoring run: the multipotent fraction as a prevalence estimate with an interval
that carries the reference's error-rate uncertainty, quality flags, and a verdict against the lab's
acceptance threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from morphopotency.score.bundle import Bundle
from morphopotency.score.prevalence import Reference, bootstrap_interval, cells_needed, estimate

# Shape features compared with the reference cohort's (log area: sizes are compared as ratios).
DRIFT_FEATURES = ("area", "circularity", "aspect_ratio", "solidity")


def bundle_reference(bundle: Bundle) -> Reference:
    """The final model's error rates, on the reference cells it did not train on (its validation and test
    cells), at its own cut-off. Rates of the cross-validation models would not do: each model is
    calibrated its own way, and mixing them mis-adjusted held-out donors on the demo (README)."""
    cells = bundle.table("reference/cells.tsv")
    held_out = cells[cells["final_role"].isin(["val", "test"])]
    labels = held_out["label"].to_numpy().astype(int)
    prior = float(cells.loc[cells["final_role"] == "train", "label"].mean())
    return Reference(
        labels, held_out["final_prob"].to_numpy(), float(bundle.settings["cnn"]["threshold"]), prior
    )


def _features(cells: pd.DataFrame) -> np.ndarray:
    values = cells[list(DRIFT_FEATURES)].to_numpy(float).copy()
    values[:, 0] = np.log(np.maximum(values[:, 0], 1.0))
    return values


def shape_drift(cells: pd.DataFrame, reference: pd.DataFrame, n_resamples: int = 999, seed: int = 0) -> tuple:
    """(statistic, permutation p-value): the sum over shape features of the 1-D energy distance between
    the donor's cells and the reference cells, features standardised on the reference."""
    ref = _features(reference)
    centre, scale = ref.mean(axis=0), ref.std(axis=0) + 1e-12
    a, b = (_features(cells) - centre) / scale, (ref - centre) / scale

    pooled = np.vstack([a, b])

    # scipy permutes 1-D samples: permute the cells' row numbers and look their features up.
    def statistic(rows_x: np.ndarray, rows_y: np.ndarray) -> float:
        x, y = pooled[rows_x.astype(int)], pooled[rows_y.astype(int)]
        return float(sum(stats.energy_distance(x[:, j], y[:, j]) for j in range(x.shape[1])))

    result = stats.permutation_test(
        (np.arange(len(a)), np.arange(len(a), len(pooled))),
        statistic,
        permutation_type="independent",
        vectorized=False,
        n_resamples=n_resamples,
        alternative="greater",
        rng=np.random.default_rng(seed),
    )
    return float(result.statistic), float(result.pvalue)


def verdict(low: float, high: float, accept: float) -> str:
    """Accept when the whole interval reaches the threshold, reject when it lies wholly below."""
    if not np.isfinite(low):
        return "no estimate"
    if low >= accept:
        return f"accept: multipotent fraction at least {accept:g} (95 % interval {low:.2f}-{high:.2f})"
    if high < accept:
        return f"reject: multipotent fraction below {accept:g} (95 % interval {low:.2f}-{high:.2f})"
    return f"inconclusive: the 95 % interval {low:.2f}-{high:.2f} spans {accept:g}; image more cells"


def donor_scores(cells: pd.DataFrame, bundle: Bundle, settings: Mapping[str, Any]) -> pd.DataFrame:
    """One row per donor: cells, classify-and-count, the ``estimator`` fraction and interval, shape
    drift, flags and verdict (``settings``: the config's ``score`` section)."""
    reference = bundle_reference(bundle)
    ref_cells = bundle.table("reference/cells.tsv")
    threshold = float(bundle.settings["cnn"]["threshold"])
    method = settings["estimator"]
    rows = []
    for donor, part in cells.groupby("donor", sort=True):
        prob = part["prob"].to_numpy(float)
        value = estimate(method, reference, prob, threshold)
        low, high = bootstrap_interval(
            method, reference, prob, threshold, settings["bootstrap"], settings["seed"]
        )
        drift, p_value = (
            shape_drift(part, ref_cells, seed=settings["seed"]) if len(part) >= 2 else (np.nan, np.nan)
        )
        flags = []
        if len(part) < settings["min_cells"]:
            flags.append(f"too few cells ({len(part)} < {settings['min_cells']})")
        if np.isfinite(p_value) and p_value < settings["drift_alpha"]:
            flags.append(f"shapes unlike the reference cohort's (p = {p_value:.3g})")
        rows.append(
            {
                "donor": donor,
                "cells": len(part),
                "cc_fraction": estimate("cc", reference, prob, threshold),
                "estimator": method,
                "fraction": value,
                "ci_low": low,
                "ci_high": high,
                "cells_for_pm005": cells_needed(reference, 0.05, float(np.nan_to_num(value, nan=0.5))),
                "shape_drift": drift,
                "shape_drift_p": p_value,
                "flags": "; ".join(flags),
                "verdict": verdict(low, high, settings["accept_at_least"]),
            }
        )
    return pd.DataFrame(rows)


def shape_mode_profile(cells: pd.DataFrame, bundle: Bundle) -> pd.DataFrame:
    """Fraction of each donor's cells in each of the bundle's shape modes."""
    from morphopotency.imaging.shapes import ShapeModel

    model = ShapeModel.load(bundle.path("shape_modes/model.npz"), bundle.path("shape_modes/model.json"))
    modes = list(range(len(model.centroids)))
    table = pd.crosstab(cells["donor"], cells["shape_mode"], normalize="index").reindex(
        columns=modes, fill_value=0
    )
    return table.rename(columns=lambda m: f"mode_{m}").rename_axis("donor").reset_index()
