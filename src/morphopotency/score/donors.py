"""Per-donor scores of a scoring run: the multipotent fraction as a prevalence estimate with an interval
that carries the reference's error-rate uncertainty, quality flags, and a verdict against the lab's
acceptance threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from morphopotency.imaging.segmented_by import mismatch, of_cells
from morphopotency.prevalence import (
    CROSS_FITTED,
    PARTS,
    CrossFit,
    DonorShift,
    Reference,
    bootstrap_interval,
    cells_needed,
    cross_cells_needed,
    estimate,
)
from morphopotency.score.bundle import DONOR_SHIFT, Bundle, bundle_estimator, bundle_scorer
from morphopotency.score.drift import donor_spread, interval_drift, spread_bound
from morphopotency.score.embedding import EmbeddingReference
from morphopotency.score.quality import quality
from morphopotency.scorers import PROB_COLUMN

# Shape features compared with the reference cohort's (log area: sizes are compared as ratios).
DRIFT_FEATURES = ("area", "circularity", "aspect_ratio", "solidity")


def bundle_reference(bundle: Bundle) -> Reference:
    """The final model's error rates, on the reference cells it did not train on (its validation and test
    cells), at its own cut-off, with the training run's donor shift where it measured one. Rates of the
    cross-validation models would not do: each model is calibrated its own way, and mixing them
    mis-adjusted held-out donors on the demo (docs/METHODS.md)."""
    cells = bundle.table("reference/cells.tsv")
    held_out = cells[cells["final_role"].isin(["val", "test"])]
    labels = held_out["label"].to_numpy().astype(int)
    prior = float(cells.loc[cells["final_role"] == "train", "label"].mean())
    shift = bundle.optional_table(DONOR_SHIFT)
    return Reference(
        labels,
        held_out["final_prob"].to_numpy(),
        float(bundle.settings["cnn"]["threshold"]),
        prior,
        None if shift is None else DonorShift.from_table(shift),
    )


def lot_weighting(crossfit: CrossFit, cells: pd.DataFrame) -> tuple[CrossFit, np.ndarray | None]:
    """The cross-fit and a lot's cell weights, both edge-corrected or neither: a lot's weighted mean
    against unweighted rates (or the reverse) would mix two populations."""
    if crossfit.weights is not None and "edge_weight" in cells:
        return crossfit, cells["edge_weight"].to_numpy(float)
    return crossfit.unweighted(), None


def shape_features(cells: pd.DataFrame) -> np.ndarray:
    """The drift check's shape features; log area, so sizes compare as ratios."""
    values = cells[list(DRIFT_FEATURES)].to_numpy(float).copy()
    values[:, 0] = np.log(np.maximum(values[:, 0], 1.0))
    return values


def drifted(distance: float, p: float, bound: float, alpha: float, fallback: bool) -> bool:
    """Drift: the lot unlike the pooled reference (p at most ``alpha``) and farther from it than one more
    reference donor would be (``bound``, drift.spread_bound). Without a bound (fewer than three donors to
    judge by) the pooled test alone with ``fallback`` (the shape check: hold rather than release), else no
    flag (the CNN embedding's reference holds the final model's held-out cells, often of two donors)."""
    if not (np.isfinite(p) and p <= alpha):
        return False
    return bool(distance > bound) if np.isfinite(bound) else fallback


def verdict(low: float, high: float, accept: float, flags: list[str] | tuple[str, ...] = ()) -> str:
    """Accept when the whole interval reaches the threshold, reject when it lies wholly below; hold a
    flagged donor whatever its interval. The interval only carries sampling and error-rate uncertainty,
    valid while the donor's cells of each class look like the reference's: a flag says they may not (on
    the demo, a blurred lot, demo.blur, read 0.96 against 0.55 inside a tight interval), so no lot is
    released or rejected on it."""
    if flags:
        return f"hold: flagged ({'; '.join(flags)}); re-image or investigate before deciding"
    if not np.isfinite(low):
        return (
            "no estimate: the reference's error rates do not separate its classes (on donors its models "
            "did not see, for the cross-fitted estimator), so they cannot be inverted; retrain the reference"
        )
    if low >= accept:
        return f"accept: multipotent fraction at least {accept:g} (95 % interval {low:.2f}-{high:.2f})"
    if high < accept:
        return f"reject: multipotent fraction below {accept:g} (95 % interval {low:.2f}-{high:.2f})"
    return f"inconclusive: the 95 % interval {low:.2f}-{high:.2f} spans {accept:g}; image more cells"


def donor_scores(cells: pd.DataFrame, bundle: Bundle, settings: Mapping[str, Any]) -> pd.DataFrame:
    """One row per donor: cells, classify-and-count, the ``estimator`` fraction and interval, the cells
    needed for +/- 0.05, shape and CNN-embedding drift against reference cells drawn at the fraction in
    the donor's interval that matches it best (score.drift, ``*_drift_at``), image and segmentation
    quality (score.quality), flags and verdict (``settings``: the config's ``score`` section). A donor
    whose cells were segmented otherwise than the reference's (imaging.segmented_by: the lab's masks
    against the workflow's segmenter or the reverse, or masks of another tool) is flagged: its cells are
    not cut as those the error rates were measured on."""
    reference_segmentations = bundle.reference_segmentations()
    reference = bundle_reference(bundle)
    ref_cells = bundle.table("reference/cells.tsv")
    embedding = EmbeddingReference.load(bundle.path("reference/embedding.npz"))
    by_cell = ref_cells.set_index("cell")
    emb_labels = by_cell.loc[embedding.cells, "label"].to_numpy()
    emb_columns = [f"emb_{i}" for i in range(len(embedding.components))]
    # How far one reference donor lies from the others: the scale a lot's distance is judged on.
    shape_bound = spread_bound(
        donor_spread(shape_features(ref_cells), ref_cells["label"], ref_cells["donor"], settings["seed"])
    )
    emb_bound = spread_bound(
        donor_spread(embedding.coords, emb_labels, by_cell.loc[embedding.cells, "donor"], settings["seed"])
    )
    threshold = float(bundle.settings["cnn"]["threshold"])
    method, _ = bundle_estimator(bundle, settings)
    scorer = bundle_scorer(bundle, settings)[0] if method == CROSS_FITTED else "cnn"
    crossfit = bundle.crossfit(scorer) if method == CROSS_FITTED else None
    alpha, seed, n_boot = settings["drift_alpha"], settings["seed"], settings["bootstrap"]
    rows = []
    for donor, part in cells.groupby("donor", sort=True):
        prob = part["prob"].to_numpy(float)
        parts = dict.fromkeys(PARTS, np.nan)
        if crossfit is not None:
            lot = part[[f"{PROB_COLUMN[scorer]}{d}" for d in crossfit.donors]].to_numpy(float)
            fit, weight = lot_weighting(crossfit, part)
            value = fit.estimate(lot, weight)
            low, high = fit.interval(lot, n_boot, seed, lot_weight=weight)
            parts = fit.variance_parts(lot, n_boot, seed, weight)
            needed = cross_cells_needed(parts, len(part), 0.05)
        else:
            value = estimate(method, reference, prob, threshold)
            low, high = bootstrap_interval(method, reference, prob, threshold, n_boot, seed)
            needed = cells_needed(reference, 0.05, float(np.nan_to_num(value, nan=0.5)), method=method)
        shape, shape_p, shape_at = interval_drift(
            shape_features(part), shape_features(ref_cells), ref_cells["label"], low, high, seed=seed
        )
        emb, emb_p, emb_at = interval_drift(
            part[emb_columns].to_numpy(float), embedding.coords, emb_labels, low, high, seed=seed
        )
        signals, flags = quality(part, ref_cells, settings["qc"], (low, high))
        if len(part) < settings["min_cells"]:
            flags.insert(0, f"too few cells ({len(part)} < {settings['min_cells']})")
        unlike = mismatch(of_cells(part), reference_segmentations)
        if unlike:
            flags.append(unlike)
        if drifted(shape, shape_p, shape_bound, alpha, fallback=True):
            flags.append(
                "shapes unlike the reference's at any fraction in the interval, beyond how its donors "
                f"differ (p = {shape_p:.3g}; distance {shape:.3g}, donors' bound {shape_bound:.3g})"
            )
        if drifted(emb, emb_p, emb_bound, alpha, fallback=False):
            flags.append(
                f"cells unlike the reference cohort's to the CNN, beyond how its donors differ "
                f"(p = {emb_p:.3g}; distance {emb:.3g}, donors' bound {emb_bound:.3g})"
            )
        rows.append(
            {
                "donor": donor,
                "cells": len(part),
                "cc_fraction": estimate("cc", reference, prob, threshold),
                "estimator": method,
                "scorer": scorer,
                "fraction": value,
                "ci_low": low,
                "ci_high": high,
                "cells_for_pm005": needed,
                **{f"variance_{p}": v for p, v in parts.items()},
                "ssea3_fraction": part["ssea3_positive"].mean() if "ssea3_positive" in part else np.nan,
                "shape_drift": shape,
                "shape_drift_p": shape_p,
                "shape_drift_at": shape_at,
                "shape_drift_bound": shape_bound,
                "embedding_drift": emb,
                "embedding_drift_p": emb_p,
                "embedding_drift_at": emb_at,
                "embedding_drift_bound": emb_bound,
                **signals,
                "flags": "; ".join(flags),
                "verdict": verdict(low, high, settings["accept_at_least"], flags),
            }
        )
    return pd.DataFrame(rows)


def validation(scores: pd.DataFrame, planted: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Each scored donor's fraction against a known one: its SSEA3-positive fraction where SSEA3 was
    imaged (never used to score it), else the simulation's (the demo); error of the estimate and of
    classify-and-count, and whether the 95 % interval covers it. Donors with neither are left out."""
    planted = dict(planted or {})
    rows = []
    for r in scores.itertuples():
        if np.isfinite(r.ssea3_fraction):
            truth, source = float(r.ssea3_fraction), "SSEA3 imaged"
        elif r.donor in planted:
            truth, source = float(planted[r.donor]), "simulated"
        else:
            continue
        rows.append(
            {
                "donor": r.donor,
                "known_fraction": truth,
                "known_from": source,
                "fraction": r.fraction,
                "error": r.fraction - truth,
                "cc_error": r.cc_fraction - truth,
                "covered": bool(r.ci_low <= truth <= r.ci_high),
                "flagged": bool(r.flags),
            }
        )
    columns = ["donor", "known_fraction", "known_from", "fraction", "error", "cc_error", "covered", "flagged"]
    return pd.DataFrame(rows, columns=columns)


def precision_guide(
    reference: Reference,
    method: str = "acc",
    half_widths: tuple[float, ...] = (0.05, 0.1),
    fractions=(0.2, 0.4, 0.6, 0.8),
) -> pd.DataFrame:
    """Cells a new donor needs for a 95 % interval of ``method`` of each half-width, at several true
    fractions, from the reference's error rates: an adjusted estimate's variance grows as the classifier
    separates the classes worse, so this is the question a lab asks before imaging."""
    return pd.DataFrame(
        [
            {
                "fraction": f,
                **{
                    f"cells_for_pm{round(w * 100):03d}": cells_needed(reference, w, f, method=method)
                    for w in half_widths
                },
            }
            for f in fractions
        ]
    )


def precision_parts(scores: pd.DataFrame, half_widths: tuple[float, ...] = (0.05, 0.1)) -> pd.DataFrame:
    """Per scored donor (pacc_cross): its interval's variance split into lot sampling (more cells per lot
    narrow it) and the spread between reference donors: what their labelled cells' number explains (more
    labelled cells per donor) and the rest (more donors), each part's share, and the cells the lot would
    need for each half-width (-1: the reference and donor parts alone are wider, so more cells cannot get
    there)."""
    rows = []
    for r in scores.itertuples():
        parts = {p: float(getattr(r, f"variance_{p}")) for p in PARTS}
        total = sum(parts.values())
        rows.append(
            {
                "donor": r.donor,
                "cells": r.cells,
                **{f"variance_{p}": v for p, v in parts.items()},
                **{f"share_{p}": v / total if total > 0 else np.nan for p, v in parts.items()},
                **{
                    f"cells_for_pm{round(w * 100):03d}": cross_cells_needed(parts, int(r.cells), w)
                    for w in half_widths
                },
            }
        )
    return pd.DataFrame(rows)


def mode_profile(cells: pd.DataFrame, n_modes: int) -> pd.DataFrame:
    """Fraction of each donor's cells in each shape mode, numbered 1..``n_modes`` as a shape model assigns
    them and the training run's distribution.tsv numbers them (columns mode_1 ... mode_K)."""
    table = pd.crosstab(cells["donor"], cells["shape_mode"], normalize="index").reindex(
        columns=range(1, n_modes + 1), fill_value=0
    )
    return table.rename(columns=lambda m: f"mode_{m}").rename_axis("donor").reset_index()


def shape_mode_profile(cells: pd.DataFrame, bundle: Bundle) -> pd.DataFrame:
    """``mode_profile`` of a scoring run's cells over the bundle's shape modes."""
    from morphopotency.imaging.shapes import ShapeModel

    model = ShapeModel.load(bundle.path("shape_modes/model.npz"), bundle.path("shape_modes/model.json"))
    return mode_profile(cells, len(model.centroids))
