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
    from morphopotency.prevalence import Reference, bootstrap_interval, cells_needed, estimate

    rows = []
    for donor, part in cv.groupby("donor", sort=True):
        other = cv[cv["donor"] != donor]
        labels = other["label"].to_numpy().astype(int)
        row: dict[str, object] = {"donor": donor}
        if len(np.unique(labels)) < 2:  # the other donors measure no error rates: nothing to adjust by
            rows.append(row)
            continue
        reference = Reference(labels, other["prob"].to_numpy(), other["threshold"].to_numpy(), labels.mean())
        prob, cut = part["prob"].to_numpy(), part["threshold"].to_numpy()
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


def ungrouped_reason(cells: pd.DataFrame) -> str | None:
    """Why the cells give no per-donor fractions, or None: they must come from two donors or more, each
    fraction adjusted by the error rates on the others' cells (a folder without metadata.tsv names one)."""
    from morphopotency.cnn.data import FOLDER_DONOR, METADATA

    donors = sorted(set(cells["donor"].astype(str)))
    if donors == [FOLDER_DONOR]:
        return (
            f"cnn.data.folder has no {METADATA} naming the donors its cells come from: every file is its "
            "own image, and no per-donor fraction is computed"
        )
    if len(donors) < 2:
        return f"the cells come from one donor ({', '.join(donors) or 'none'}): no other donor to compare"
    return None


def donor_multipotency(
    final: pd.DataFrame, cv: pd.DataFrame, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """The per-donor table (paper Fig. 4F and beyond): the final model's fraction of called cells on all
    and on its test cells, the same fraction from cross-validated predictions (each cell scored by a
    model that never trained on its image or donor, so no fraction leans on memorised labels), and the
    prevalence estimates of those predictions. ``cv``: the selected backbone's rows. One row with a
    ``reason`` where the cells give no donors to compare."""
    reason = ungrouped_reason(final)
    if reason:
        return pd.DataFrame({"reason": [reason]})
    # Each prediction table carries the cut-off its model decided with (fixed, or chosen on validation).
    table = donor_fractions(final, final["prob"].to_numpy(), final["threshold"].to_numpy(), n_boot, seed)
    held_out = final[final["role"] == "test"].assign(called=lambda t: t["prob"] >= t["threshold"])
    table = table.merge(
        held_out.groupby("donor")
        .agg(test_cells=("prob", "size"), test_predicted_fraction=("called", "mean"))
        .reset_index(),
        on="donor",
        how="left",
    )
    crossed = donor_fractions(cv, cv["prob"].to_numpy(), cv["threshold"].to_numpy(), n_boot, seed)
    table = table.merge(
        crossed[["donor", "cells", "predicted_multipotent_fraction", "ci_low", "ci_high"]].rename(
            columns={
                "cells": "cv_cells",
                "predicted_multipotent_fraction": "cv_predicted_fraction",
                "ci_low": "cv_ci_low",
                "ci_high": "cv_ci_high",
            }
        ),
        on="donor",
        how="left",
    )
    # Estimates that undo the pull of counting towards the training prevalence, each donor's error rates
    # measured on the other donors' held-out cells (morphopotency.prevalence).
    return table.merge(adjusted_fractions(cv, n_boot=n_boot, seed=seed), on="donor", how="left")


# (column prefix, estimate, low, high) of each fraction the donor table holds.
FRACTIONS = {
    "cc (final model, Fig. 4F)": ("predicted_multipotent_fraction", "ci_low", "ci_high"),
    "cc (cross-validated)": ("cv_predicted_fraction", "cv_ci_low", "cv_ci_high"),
    "acc (cross-validated)": ("cv_acc_fraction", "cv_acc_low", "cv_acc_high"),
    "pacc (cross-validated)": ("cv_pacc_fraction", "cv_pacc_low", "cv_pacc_high"),
    "em (cross-validated)": ("cv_em_fraction", "cv_em_low", "cv_em_high"),
}


def error_summary(
    estimator: str, est: np.ndarray, low: np.ndarray, high: np.ndarray, truth: np.ndarray
) -> dict[str, object]:
    """Donor fractions ``est`` (95 % interval ``low``-``high``) against the known ``truth``: mean
    absolute, maximum and mean signed error, Spearman's rho, and how many intervals cover the truth."""
    from scipy.stats import spearmanr

    est, low, high, truth = (np.asarray(a, float) for a in (est, low, high, truth))
    ok = np.isfinite(est) & np.isfinite(truth)
    error = est[ok] - truth[ok]
    covered = (low <= truth) & (truth <= high)
    rho = spearmanr(est[ok], truth[ok]).statistic if ok.sum() > 2 else np.nan
    return {
        "estimator": estimator,
        "donors": int(ok.sum()),
        "mean_abs_error": float(np.abs(error).mean()) if ok.any() else np.nan,
        "max_abs_error": float(np.abs(error).max()) if ok.any() else np.nan,
        "mean_signed_error": float(error.mean()) if ok.any() else np.nan,
        "spearman_rho": float(rho),
        "intervals_covering": int(covered[ok].sum()),
    }


def fraction_validation(table: pd.DataFrame) -> pd.DataFrame:
    """Each donor fraction against the donor's SSEA3-positive fraction: mean absolute, maximum and mean
    signed error, Spearman's rho, and how many donors' 95 % intervals cover the SSEA3 fraction."""
    if "ssea3_positive_fraction" not in table:  # no donors to compare: the table holds the reason
        return table[["reason"]].copy()
    truth = table["ssea3_positive_fraction"]
    rows = [
        error_summary(name, table[value], table[low], table[high], truth)
        for name, (value, low, high) in FRACTIONS.items()
        if value in table
    ]
    return pd.DataFrame(rows)
