"""Is a new donor's cell population unlike the reference cohort's, beyond a different multipotent fraction?

A donor with more multipotent cells than the reference has rounder cells: its shapes differ from the
pooled reference cells for the very reason it is scored, and a plain two-sample test would flag every
donor worth knowing about. So each donor is compared with reference cells drawn at the donor's own
fraction (multipotent and other cells apart), and only a change within the classes (a different
pixel size, segmentation or staining) is left for the test to find.

The estimate itself is uncertain, and a reference drawn at a wrong fraction differs from a clean donor for
that reason alone (on the demo a lot of 0.85 estimated at 0.98 was flagged at p = 0.001). So the
reference is drawn at the fraction within the donor's 95 % interval that matches it best
(``interval_drift``), and a donor is flagged only if no fraction its interval allows explains its cells.

Real donors also differ from one another beyond their fractions (plates, batches, the mix of cell types
within a class), and the cross-fitted interval already carries that spread. A lot differing from the
pooled reference as much as one reference donor differs from the others is a new donor, not drift: on
real crops from other plates every clean lot differed from the pool at p = 0.001 and was read within
0.03 of its truth. So the distance a lot is flagged at is calibrated by the reference donors' own
(``donor_spread``: each donor against the others drawn at its fraction), and a lot is flagged only
beyond the upper 99 % prediction bound of one more donor's (``spread_bound``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.spatial.distance import cdist

MAX_CELLS = 500  # per side: the test's cost grows with the square of the cells, its power barely beyond


def matched_rows(labels: np.ndarray, fraction: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of reference cells, without replacement, of which ``fraction`` are labelled 1: as many as both
    classes allow, at most ``size``."""
    labels = np.asarray(labels).astype(int)
    fraction = float(np.clip(np.nan_to_num(fraction, nan=labels.mean()), 0.0, 1.0))
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    limits = [size]
    if fraction > 0:
        limits.append(int(len(pos) / fraction))
    if fraction < 1:
        limits.append(int(len(neg) / (1 - fraction)))
    n = min(limits)
    k = int(round(fraction * n))
    k = min(k, len(pos))
    rows = np.concatenate(
        [rng.choice(pos, k, replace=False), rng.choice(neg, min(n - k, len(neg)), replace=False)]
    )
    return np.sort(rows)


def _pooled_distances(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, int] | None:
    """Distances between all cells of ``x`` and ``y`` (each cut to MAX_CELLS), features standardised on
    ``y`` and a missing measure (a cell too small for its outline's moments) taken as ``y``'s median;
    None when a side has fewer than two cells."""
    x, y = np.atleast_2d(np.asarray(x, float)), np.atleast_2d(np.asarray(y, float))
    if len(x) < 2 or len(y) < 2:
        return None
    if np.isnan(x).any() or np.isnan(y).any():
        median = np.nan_to_num(np.nanmedian(y, axis=0))
        x, y = np.where(np.isnan(x), median, x), np.where(np.isnan(y), median, y)
    if len(x) > MAX_CELLS:
        x = x[rng.choice(len(x), MAX_CELLS, replace=False)]
    if len(y) > MAX_CELLS:
        y = y[rng.choice(len(y), MAX_CELLS, replace=False)]
    centre, scale = y.mean(axis=0), y.std(axis=0)
    scale[scale == 0] = 1.0
    pooled = (np.vstack([x, y]) - centre) / scale
    return cdist(pooled, pooled), len(x)


def _within(distance: np.ndarray, a: np.ndarray) -> float:
    """Mean distance between distinct cells of ``a`` (the U-statistic: a cell's zero distance to itself
    left out, so the energy distance is unbiased whatever the sample sizes, and a lot of 400 cells
    compares with reference donors of 100)."""
    n = len(a)
    return float(distance[np.ix_(a, a)].sum() / (n * (n - 1)))


def _energy(distance: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    between = distance[np.ix_(a, b)].mean()
    return float(2 * between - _within(distance, a) - _within(distance, b))


def energy_distance(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    """The energy distance of ``energy_test`` without its permutations."""
    pooled = _pooled_distances(x, y, np.random.default_rng(seed))
    if pooled is None:
        return float("nan")
    distance, n_x = pooled
    return _energy(distance, np.arange(n_x), np.arange(n_x, len(distance)))


def energy_test(x: np.ndarray, y: np.ndarray, n_resamples: int = 999, seed: int = 0) -> tuple[float, float]:
    """(energy distance, permutation p-value) between samples ``x`` and ``y`` (rows: cells), features
    standardised on ``y``. Written here because scipy's energy_distance is one-dimensional; the
    permutations are scipy's, on a distance matrix computed once."""
    rng = np.random.default_rng(seed)
    pooled = _pooled_distances(x, y, rng)
    if pooled is None:
        return float("nan"), float("nan")
    distance, n_x = pooled

    def statistic(rows_x: np.ndarray, rows_y: np.ndarray) -> float:
        return _energy(distance, rows_x.astype(int), rows_y.astype(int))

    result = stats.permutation_test(
        (np.arange(n_x), np.arange(n_x, len(distance))),
        statistic,
        permutation_type="independent",
        vectorized=False,
        n_resamples=n_resamples,
        alternative="greater",
        rng=rng,
    )
    return float(result.statistic), float(result.pvalue)


def interval_drift(
    donor: np.ndarray,
    reference: np.ndarray,
    labels: np.ndarray,
    low: float,
    high: float,
    points: int = 7,
    n_resamples: int = 999,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(energy distance, p-value, fraction): ``energy_test`` of the donor's cells against reference cells
    drawn (``matched_rows``) at the fraction among ``points`` spread over [``low``, ``high``] whose draw
    is nearest the donor; low = high tests one fraction. Picking the nearest draw first makes
    the test conservative, so a flag still means drift: no fraction the interval allows explains these
    cells. It costs ``points`` distances and one permutation test."""
    bounded = np.isfinite([low, high]).all()
    grid = np.unique(np.linspace(low, high, points)) if bounded else np.array([np.nan])
    reference = np.asarray(reference)
    draws = [matched_rows(labels, f, MAX_CELLS, np.random.default_rng(seed)) for f in grid]
    distances = [energy_distance(donor, reference[rows], seed) for rows in draws]
    best = int(np.nanargmin(distances)) if np.isfinite(distances).any() else 0
    statistic, p = energy_test(donor, reference[draws[best]], n_resamples, seed)
    return statistic, p, float(grid[best])


def donor_spread(
    features: np.ndarray, labels: np.ndarray, donors: np.ndarray, seed: int = 0, min_cells: int = 10
) -> np.ndarray:
    """Each reference donor's energy distance from the other donors' cells drawn at its own fraction
    (``matched_rows``): how much one donor differs from the rest beyond its mix, the scale a new lot's
    distance is judged on. Donors with fewer than ``min_cells`` cells are left out."""
    features, labels, donors = np.asarray(features, float), np.asarray(labels).astype(int), np.asarray(donors)
    out = []
    for donor in np.unique(donors):
        own = donors == donor
        rest = np.flatnonzero(~own)
        if own.sum() < min_cells or len(rest) < min_cells:
            continue
        rows = matched_rows(labels[rest], labels[own].mean(), MAX_CELLS, np.random.default_rng(seed))
        out.append(energy_distance(features[own], features[rest][rows], seed))
    return np.asarray(out, float)


def spread_bound(spread: np.ndarray, level: float = 0.99) -> float:
    """The upper ``level`` prediction bound of one more donor's distance from the rest, from the reference
    donors' own (``donor_spread``): mean + t(level, K - 1) sd sqrt(1 + 1/K). NaN with fewer than three
    donors: no spread to judge by."""
    spread = np.asarray(spread, float)
    spread = spread[np.isfinite(spread)]
    k = len(spread)
    if k < 3:
        return float("nan")
    return float(spread.mean() + stats.t.ppf(level, k - 1) * spread.std(ddof=1) * np.sqrt(1 + 1 / k))
