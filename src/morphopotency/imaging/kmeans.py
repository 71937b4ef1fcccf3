"""Many K-means runs at once, for the shape-mode consensus.

Written here because scikit-learn fits one K-means per call: thousands of runs on a few hundred cells
spend their time in Python and per-call set-up, not in arithmetic (about 8 CPU-minutes for 15,000 fits
on 317 cells). Here a batch of runs shares every array operation: k-means++ seeding and Lloyd iterations
over (runs, cells, K) arrays, and the co-association of all runs is one matrix product.
"""

from __future__ import annotations

import numpy as np

# Runs per batch: keeps the (runs, cells, K) distance array near 64 MB at 3,000 cells and K = 20.
BATCH_ELEMENTS = 8_000_000


def _sq_distances(x: np.ndarray, sq_x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(runs, cells, K) squared distances from ``x`` (cells, d) to each run's ``centres`` (runs, K, d):
    one matrix product for all runs."""
    runs, k, d = centres.shape
    cross = (x @ centres.reshape(runs * k, d).T).reshape(len(x), runs, k).transpose(1, 0, 2)
    return np.maximum(sq_x[None, :, None] - 2 * cross + (centres**2).sum(axis=2)[:, None, :], 0.0)


def _assign(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(runs, cells) nearest centre of each run: argmin over K of |c|^2 - 2 x.c (|x|^2 is the same for all
    K), computed cells-major so that the reduction runs over contiguous memory."""
    runs, k, d = centres.shape
    score = (x @ centres.reshape(runs * k, d).T).reshape(len(x), runs, k)
    score *= -2.0
    score += (centres**2).sum(axis=2)[None, :, :]
    return np.argmin(score, axis=2).T


def _centres(x: np.ndarray, labels: np.ndarray, k: int, old: np.ndarray) -> np.ndarray:
    """Each run's cluster means (bincount over run x cluster bins); an emptied cluster keeps its centre."""
    runs, n = labels.shape
    bins = (labels + k * np.arange(runs)[:, None]).ravel()
    counts = np.bincount(bins, minlength=runs * k).reshape(runs, k)
    sums = np.stack(
        [np.bincount(bins, weights=np.tile(x[:, j], runs), minlength=runs * k) for j in range(x.shape[1])],
        axis=1,
    ).reshape(runs, k, -1)
    return np.where(counts[:, :, None] > 0, sums / np.maximum(counts, 1)[:, :, None], old)


def _kmeans_plus_plus(x: np.ndarray, sq_x: np.ndarray, k: int, runs: int, rng) -> np.ndarray:
    """Greedy k-means++ seeds (as scikit-learn's) for ``runs`` runs at once: each next centre is the best
    of 2 + log(K) candidates drawn with probability proportional to the squared distance to the nearest
    centre so far (inverse-CDF sampling per run), best meaning the lowest summed squared distance after."""
    n = len(x)
    trials = 2 + int(np.log(k))
    centres = np.empty((runs, k, x.shape[1]), dtype=x.dtype)
    centres[:, 0] = x[rng.integers(n, size=runs)]
    nearest = _sq_distances(x, sq_x, centres[:, :1])[:, :, 0]
    for j in range(1, k):
        total = nearest.sum(axis=1)
        cumulative = np.cumsum(nearest, axis=1)
        draw = rng.uniform(size=(runs, trials)) * total[:, None]
        picks = np.minimum((cumulative[:, None, :] < draw[:, :, None]).sum(axis=2), n - 1)  # (runs, trials)
        candidate = _sq_distances(x, sq_x, x[picks])  # (runs, cells, trials)
        after = np.minimum(nearest[:, :, None], candidate)
        best = np.argmin(after.sum(axis=1), axis=1)
        centres[:, j] = x[picks[np.arange(runs), best]]
        nearest = after[np.arange(runs), :, best]
    return centres


def _lloyd(x: np.ndarray, sq_x: np.ndarray, centres: np.ndarray, max_iter: int) -> np.ndarray:
    """Lloyd iterations until no run's labels change; runs that have converged stop computing."""
    k = centres.shape[1]
    labels = _assign(x, centres)
    active = np.arange(len(centres))
    for _ in range(max_iter):
        centres[active] = _centres(x, labels[active], k, centres[active])
        new = _assign(x, centres[active])
        changed = (new != labels[active]).any(axis=1)
        labels[active] = new
        active = active[changed]
        if not len(active):
            break
    return labels


def kmeans_runs(
    x: np.ndarray, k: int, runs: int, rng: np.random.Generator, max_iter: int = 100
) -> np.ndarray:
    """(runs, cells) labels of ``runs`` independent k-means++ / Lloyd fits of ``x`` (cells, d)."""
    # float64: float32 would halve the memory traffic, but its rounding differs between BLAS builds, and a
    # run whose path it changes makes the consensus differ from machine to machine.
    x = np.asarray(x, dtype=np.float64)
    sq_x = (x**2).sum(axis=1)
    batch = max(1, BATCH_ELEMENTS // max(len(x) * k, 1))
    out = []
    for start in range(0, runs, batch):
        size = min(batch, runs - start)
        out.append(_lloyd(x, sq_x, _kmeans_plus_plus(x, sq_x, k, size, rng), max_iter))
    return np.concatenate(out) if out else np.zeros((0, len(x)), dtype=int)


def co_association(labels: np.ndarray, k: int) -> np.ndarray:
    """(cells, cells) share of runs in which two cells fall in one cluster: one matrix product of the
    runs' one-hot labels."""
    runs, n = labels.shape
    share = np.zeros((n, n), dtype=np.float32)
    batch = max(1, BATCH_ELEMENTS // max(n * k, 1))
    for start in range(0, runs, batch):
        part = labels[start : start + batch]
        onehot = (part[:, :, None] == np.arange(k)).astype(np.float32)  # (runs, cells, K)
        flat = onehot.transpose(1, 0, 2).reshape(n, -1)
        share += flat @ flat.T
    return share / max(runs, 1)
