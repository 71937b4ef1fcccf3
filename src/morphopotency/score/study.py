"""The replicated validation study's arithmetic (bench/score_study.py runs the cohorts): how accurate a
lot's score is, and how often its interval covers, over many unseen lots of several independent
training cohorts. One demo's three lots cannot tell estimators apart; this is what the README and the
methods (docs/METHODS.md) quote.

Lots of one cohort share its model and reference, so their errors are not independent: the mean error's
interval is Student's t on the cohorts' means, and every other uncertainty here resamples cohorts, then
lots within them (a two-stage cluster bootstrap).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from morphopotency.prevalence import (
    CROSS_FITTED,
    PARTS,
    CrossFit,
    Reference,
    bootstrap_values,
    estimate,
    percentile_interval,
)
from morphopotency.score.bands import BANDS

LEVELS = (0.5, 0.8, 0.9, 0.95)


def _weights(part: pd.DataFrame) -> list[float]:
    """The cells' edge weights (imaging.cells.edge_weights) where the table has them, else 1 each."""
    return list(part["edge_weight"].astype(float)) if "edge_weight" in part else [1.0] * len(part)


def planted_under(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The planted cell id under each centroid (rounded to a pixel, kept inside the field; 0: background)."""
    rows = np.clip(np.rint(np.asarray(rows, float)).astype(int), 0, mask.shape[0] - 1)
    cols = np.clip(np.rint(np.asarray(cols, float)).astype(int), 0, mask.shape[1] - 1)
    return mask[rows, cols]


def segmented_truth(
    cells: pd.DataFrame, masks: Mapping[str, np.ndarray], planted: pd.DataFrame
) -> tuple[float, int]:
    """The multipotent share of the cells actually segmented, and how many were matched: each segmented
    cell (image, centroid_row, centroid_col) takes the class of the planted cell under its centroid
    (``masks``: image -> planted label image; ``planted``: image, cell_id, multipotent). A centroid on
    background matches none and is left out: a lot's truth is what its segmented cells are. Weighted by
    the cells' edge weights where ``cells`` has them, as the deployed estimate is."""
    classes = planted.set_index(["image", "cell_id"])["multipotent"].astype(bool)
    found, weights = [], []
    for image, part in cells.groupby("image", sort=True, observed=True):
        ids = planted_under(masks[str(image)], part["centroid_row"], part["centroid_col"])
        found += [classes[(image, int(i))] for i in ids if i]
        weights += [w for i, w in zip(ids, _weights(part)) if i]
    return (float(np.average(found, weights=weights)) if found else float("nan")), len(found)


def labelled_truth(
    cells: pd.DataFrame,
    labels: Mapping[str, np.ndarray],
    ssea3: Mapping[str, np.ndarray],
    max_value: float,
    cut: float,
    region: str = "whole",
) -> tuple[float, int]:
    """The share of a lot's segmented cells SSEA3 staining would have labelled multipotent, measured as the
    reference's were (mean SSEA3 over each cell's ``region``, imaging.cells.SSEA3_REGIONS, on the 8-bit
    scale, above ``cut``): what the score estimates, since its error rates are measured against those
    labels. ``cells``: image, cell_id (edge_weight: the share is weighted by it, as the deployed estimate
    is); ``labels``/``ssea3``: image -> segmentation labels / SSEA3 plane of the same pixels."""
    from morphopotency.imaging.cells import ssea3_means, to_8bit

    calls, weights = [], []
    for image, part in cells.groupby("image", sort=True, observed=True):
        means = ssea3_means(labels[str(image)], ssea3[str(image)], region)
        calls += list(to_8bit(means.loc[part["cell_id"].to_numpy(int)].to_numpy(), max_value) > cut)
        weights += _weights(part)
    return (float(np.average(calls, weights=weights)) if calls else float("nan")), len(calls)


def label_agreement(
    labels: np.ndarray,
    ssea3: np.ndarray,
    mask: np.ndarray,
    planted: pd.DataFrame,
    max_value: float,
    cut: float,
    regions: Sequence[str] = ("whole", "inner"),
) -> pd.DataFrame:
    """How SSEA3 labels each segmented cell of one field against the class planted under its centroid,
    for each way of measuring it (imaging.cells.SSEA3_REGIONS): one row per region with the cells of
    each planted class and those labelled against it (``planted``: cell_id, multipotent of ``mask``'s
    cells). Label noise whose share differs between classes moves with a donor's mix, which no adjusted
    count corrects; this is how the study shows it."""
    from skimage import measure

    from morphopotency.imaging.cells import ssea3_means, to_8bit

    classes = planted.set_index("cell_id")["multipotent"].astype(bool)
    centroids = measure.regionprops_table(labels, properties=("label", "centroid"))
    under = planted_under(mask, centroids["centroid-0"], centroids["centroid-1"])
    keep = under > 0
    truth = classes.loc[under[keep]].to_numpy()
    rows = []
    for region in regions:
        # Label order, as the centroids' (both regionprops tables of the same label image).
        called = to_8bit(ssea3_means(labels, ssea3, region).to_numpy()[keep], max_value) > cut
        rows.append(
            {
                "region": region,
                "multipotent": int(truth.sum()),
                "multipotent_labelled_negative": int((truth & ~called).sum()),
                "other": int((~truth).sum()),
                "other_labelled_positive": int((~truth & called).sum()),
            }
        )
    return pd.DataFrame(rows)


def lot_estimates(
    reference: Reference,
    prob: np.ndarray,
    methods: Sequence[str],
    levels: Sequence[float] = LEVELS,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per estimator: the estimate and its percentile interval at each level (low_<level>,
    high_<level>), all levels from one set of bootstrap resamples, as a scoring run draws them."""
    rows = []
    for method in methods:
        values = bootstrap_values(method, reference, prob, None, n_boot, seed)
        row = {"estimator": method, "estimate": estimate(method, reference, prob)}
        for level in levels:
            row[f"low_{level:g}"], row[f"high_{level:g}"] = percentile_interval(values, level)
        rows.append(row)
    return pd.DataFrame(rows)


def cross_estimates(
    crossfit: CrossFit,
    lot_prob: np.ndarray,
    levels: Sequence[float] = LEVELS,
    n_boot: int = 1000,
    seed: int = 0,
    lot_weight: np.ndarray | None = None,
) -> pd.DataFrame:
    """``lot_estimates``' row for pacc_cross (``lot_prob``: cells x LODO models; ``lot_weight``: the
    cells' edge weights, with a cross-fit weighted alike)."""
    values = crossfit.bootstrap(lot_prob, n_boot, seed, lot_weight=lot_weight)
    row = {"estimator": CROSS_FITTED, "estimate": crossfit.estimate(lot_prob, lot_weight)}
    for level in levels:
        low, high = percentile_interval(values, level)
        row[f"low_{level:g}"], row[f"high_{level:g}"] = float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1))
    return pd.DataFrame([row])


def _cluster_draws(lots: pd.DataFrame, n_boot: int, seed: int) -> list[np.ndarray]:
    """Row positions of ``n_boot`` two-stage resamples: cohorts with replacement, then lots within each."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(lots["cohort"].to_numpy() == c) for c in sorted(lots["cohort"].unique())]
    draws = []
    for _ in range(n_boot):
        chosen = rng.integers(0, len(groups), len(groups))
        draws.append(np.concatenate([rng.choice(groups[c], len(groups[c]), replace=True) for c in chosen]))
    return draws


def _slope(truth: np.ndarray, error: np.ndarray) -> float:
    if len(np.unique(truth)) < 2:
        return float("nan")
    return float(np.polyfit(truth, error, 1)[0])


def _bias_interval(cohorts: pd.Series, error: np.ndarray, draws: list[np.ndarray]) -> tuple[float, float]:
    """95 % interval of the mean signed error. Over several cohorts: Student's t on the cohorts' mean errors
    (R - 1 degrees of freedom), the cohorts weighing equally. A percentile bootstrap of R clusters is too
    narrow when R is small: its variance is (R - 1) / R of the cohort means' and its quantiles are normal
    ones (Cameron, Gelbach & Miller 2008); with ten cohorts about a fifth too narrow. One cohort: its lots
    resampled (``draws``), which cannot see the error its lots share."""
    means = pd.Series(error).groupby(cohorts.to_numpy()).mean().to_numpy()
    if len(means) < 2:
        bias = np.array([error[d].mean() for d in draws])
        return float(np.percentile(bias, 2.5)), float(np.percentile(bias, 97.5))
    half = float(stats.t.ppf(0.975, len(means) - 1) * means.std(ddof=1) / np.sqrt(len(means)))
    return float(means.mean() - half), float(means.mean() + half)


def error_table(lots: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per estimator over every lot (columns cohort, lot, estimator, truth, estimate, low_0.95,
    high_0.95): mean signed error with its 95 % interval (_bias_interval), mean absolute and maximum
    error, the slope of signed error against the true fraction (a pull towards the training prevalence
    is a negative slope) with its interval, coverage of the 95 % intervals overall and by band of true
    fraction, and the mean interval half-width."""
    rows = []
    for method, part in lots.groupby("estimator", sort=False):
        part = part.reset_index(drop=True)
        truth, est = part["truth"].to_numpy(float), part["estimate"].to_numpy(float)
        error = est - truth
        covered = (part["low_0.95"] <= part["truth"]) & (part["truth"] <= part["high_0.95"])
        draws = _cluster_draws(part, n_boot, seed)
        bias_low, bias_high = _bias_interval(part["cohort"], error, draws)
        slopes = np.array([_slope(truth[d], error[d]) for d in draws])
        row = {
            "estimator": method,
            "cohorts": part["cohort"].nunique(),
            "lots": len(part),
            "mean_signed_error": float(error.mean()),
            "mse_ci_low": bias_low,
            "mse_ci_high": bias_high,
            "mean_abs_error": float(np.abs(error).mean()),
            "max_abs_error": float(np.abs(error).max()),
            "slope": _slope(truth, error),
            "slope_ci_low": float(np.nanpercentile(slopes, 2.5)),
            "slope_ci_high": float(np.nanpercentile(slopes, 97.5)),
            "coverage_95": float(covered.mean()),
            "mean_half_width": float(((part["high_0.95"] - part["low_0.95"]) / 2).mean()),
        }
        for low, high, name in BANDS:
            band = (truth >= low) & (truth < high)
            row[f"coverage_{name}"] = float(covered[band].mean()) if band.any() else float("nan")
            row[f"lots_{name}"] = int(band.sum())
        rows.append(row)
    return pd.DataFrame(rows)


def _lot_sd(part: pd.DataFrame) -> np.ndarray | None:
    """Each lot's standard deviation as its interval states it (the sum of its variance parts), or None
    where the lots carry no parts (estimators other than the deployed one)."""
    columns = [f"variance_{p}" for p in PARTS]
    if not set(columns) <= set(part) or part[columns].isna().any().any():
        return None
    return np.sqrt(part[columns].astype(float).sum(axis=1).to_numpy())


def _natural(name: object) -> tuple:
    """cohort2 before cohort10: names compared by their text and number parts."""
    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", str(name))
    )


def cohort_errors(lots: pd.DataFrame) -> pd.DataFrame:
    """Per cohort, of one estimator's lots (columns as error_table's; the deployed interval's variance
    parts variance_lot, variance_reference and variance_donors where present): the mean signed error, its
    slope, the 95 % intervals' coverage, and the mean error in units of the standard deviation the
    intervals give that mean (``z``): the reference and donor parts (``shared_sd``), which every lot of a
    cohort shares because they share its reference error rates, plus the lot part averaged over its lots.
    Under intervals exactly as wide as the errors need, ``z`` is a standard normal draw per cohort."""
    rows = []
    for cohort, part in sorted(lots.groupby("cohort"), key=lambda item: _natural(item[0])):
        truth, est = part["truth"].to_numpy(float), part["estimate"].to_numpy(float)
        error = est - truth
        covered = (part["low_0.95"] <= part["truth"]) & (part["truth"] <= part["high_0.95"])
        shared = mean_sd = float("nan")
        if {"variance_reference", "variance_donors"} <= set(part):
            parts = part[["variance_reference", "variance_donors"]].astype(float)
            shared = float(np.sqrt(parts.sum(axis=1).mean()))
            lot = part["variance_lot"].astype(float).mean() if "variance_lot" in part else 0.0
            mean_sd = float(np.sqrt(shared**2 + lot / len(part)))
        rows.append(
            {
                "cohort": cohort,
                "lots": len(part),
                "mean_signed_error": float(error.mean()),
                "slope": _slope(truth, error),
                "coverage_95": float(covered.mean()),
                "shared_sd": shared,
                "z": float(error.mean() / mean_sd) if mean_sd > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def shared_calibration(by_cohort: pd.DataFrame) -> dict[str, float]:
    """Whether the cohorts' mean errors are as large as their intervals allow (``by_cohort``: cohort_errors'
    table): the root mean square of their ``z`` (1 when calibrated) and the chi-square test of
    calibration, sum of z^2 on as many degrees of freedom as cohorts (two-sided p: too narrow or too wide)."""
    z = by_cohort["z"].to_numpy(float)
    z = z[np.isfinite(z)]
    if not len(z):
        return {"cohorts": 0, "rms_z": float("nan"), "chi2": float("nan"), "p": float("nan")}
    statistic = float(np.sum(z**2))
    tail = min(stats.chi2.sf(statistic, len(z)), stats.chi2.cdf(statistic, len(z)))
    return {
        "cohorts": len(z),
        "rms_z": float(np.sqrt(np.mean(z**2))),
        "chi2": statistic,
        "p": float(min(1.0, 2 * tail)),
    }


def band_calibration(lots: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per band of true fraction (and over all lots) of one estimator's lots with their variance parts:
    the root mean square of each lot's error in units of its own interval's standard deviation, with a
    95 % cluster-bootstrap interval. 1 when the intervals are as wide as the errors need, above 1 when
    too narrow. Finer than the count of lots covered, which for ten lots a band moves by ten points a
    lot; empty where the lots carry no variance parts."""
    sd = _lot_sd(lots)
    if sd is None:
        return pd.DataFrame(columns=["band", "lots", "rms_z", "ci_low", "ci_high"])
    lots = lots.reset_index(drop=True)
    z = (lots["estimate"].to_numpy(float) - lots["truth"].to_numpy(float)) / sd
    truth = lots["truth"].to_numpy(float)
    rows = []
    for low, high, name in ((0.0, 1.0001, "all"), *BANDS):
        inside = np.flatnonzero((truth >= low) & (truth < high))
        if not len(inside):
            continue
        part = lots.iloc[inside].reset_index(drop=True)
        zs = z[inside]
        draws = [np.sqrt(np.mean(zs[d] ** 2)) for d in _cluster_draws(part, n_boot, seed)]
        rows.append(
            {
                "band": name,
                "lots": len(inside),
                "rms_z": float(np.sqrt(np.mean(zs**2))),
                "ci_low": float(np.percentile(draws, 2.5)),
                "ci_high": float(np.percentile(draws, 97.5)),
            }
        )
    return pd.DataFrame(rows)


def coverage_curve(lots: pd.DataFrame, levels: Sequence[float] = LEVELS) -> pd.DataFrame:
    """Observed coverage of each estimator's intervals at each nominal level: on the diagonal when the
    intervals are as wide as they claim."""
    rows = []
    for method, part in lots.groupby("estimator", sort=False):
        for level in levels:
            low, high = part[f"low_{level:g}"], part[f"high_{level:g}"]
            covered = (low <= part["truth"]) & (part["truth"] <= high)
            rows.append({"estimator": method, "nominal": level, "observed": float(covered.mean())})
    return pd.DataFrame(rows)


def hold_rates(lots: pd.DataFrame) -> pd.DataFrame:
    """Of the deployed runs' verdicts (one row per lot: drift, the planted drift or '' for a clean lot;
    held, whether the run held it): the share of clean lots held (false holds) and of each planted drift
    caught."""
    rows = []
    for drift, part in lots.groupby(lots["drift"].fillna("").replace("", "none (clean lot)"), sort=True):
        rows.append({"drift": drift, "lots": len(part), "held": int(part["held"].sum())})
    table = pd.DataFrame(rows, columns=["drift", "lots", "held"])
    return table.assign(share_held=table["held"] / table["lots"])


def scorer_rule(evidence: pd.DataFrame) -> dict:
    """Whether the scorer choice (score.model auto) picks what it means to (``evidence``: per cohort and
    scorer, the bundle's expected_half_width, chosen, and the clean lots' realised_half_width and
    realised_abs_error): in how many cohorts the chosen scorer's lots had the narrowest intervals, and
    per scorer the mean expected and realised half-width and mean absolute error."""
    if evidence.empty:
        return {"cohorts": 0}
    narrowest = 0
    for _, part in evidence.groupby("cohort"):
        best = part.loc[part["realised_half_width"].idxmin(), "scorer"]
        narrowest += int(part.loc[part["chosen"].astype(bool), "scorer"].eq(best).any())
    means = evidence.groupby("scorer", sort=False)[
        ["expected_half_width", "realised_half_width", "realised_abs_error"]
    ].mean()
    return {
        "cohorts": int(evidence["cohort"].nunique()),
        "chose_narrowest": narrowest,
        "by_scorer": {str(k): {c: round(float(v), 4) for c, v in row.items()} for k, row in means.iterrows()},
    }
