"""PCA with Bioconductor PCAtools semantics (``pca``, ``findElbowPoint``, ``parallelPCA``, ``plotloadings``).

The paper ran ``PCAtools::pca(mat, removeVar = 0.1)``. scikit-learn's PCA differs in what it removes,
how it scales variance and how it orders genes, so the few lines that define PCAtools' numbers are kept
here, on numpy's exact SVD (see ``shared/specs/pcatools.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PcaResult:
    """PCAtools' ``pca`` object: genes in ``loadings`` rows follow decreasing variance."""

    variance_percent: pd.Series  # index PC1..PCk
    sdev: pd.Series
    scores: pd.DataFrame  # samples x PCs ("rotated")
    loadings: pd.DataFrame  # kept genes x PCs (unit columns)
    removed: int  # genes removed by removeVar


def _kept_genes(x: np.ndarray, remove_var: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of genes kept by removeVar, in decreasing-variance order (stable: ties keep input order)."""
    var = x.var(axis=0, ddof=1)
    order = np.argsort(-var, kind="stable")
    p = x.shape[1]
    if remove_var is None or remove_var <= 0:
        return order, var
    keep = max(1, int(np.floor(p * (1 - remove_var))))
    return order[:keep], var


def variance_percent(x: np.ndarray, remove_var: float | None = 0.1, scale: bool = False) -> np.ndarray:
    """Variance explained per PC for samples x genes ``x`` (used by parallel analysis)."""
    kept, var = _kept_genes(x, remove_var)
    z = x[:, kept]
    z = z - z.mean(axis=0)
    if scale:
        z = z / np.sqrt(var[kept])
    d = np.linalg.svd(z, compute_uv=False)
    total = len(kept) if scale else var[kept].sum()
    return (d**2 / (x.shape[0] - 1)) / total * 100


def pcatools_pca(mat: pd.DataFrame, remove_var: float | None = 0.1, scale: bool = False) -> PcaResult:
    """PCA of a genes x samples matrix exactly as ``PCAtools::pca(mat, center=TRUE, scale, removeVar)``."""
    if mat.shape[1] < 2:
        raise ValueError(f"PCA needs at least 2 samples, got {mat.shape[1]}")
    x = mat.to_numpy(dtype=float).T  # samples x genes, the one working copy
    kept, var = _kept_genes(x, remove_var)
    z = x[:, kept]
    z -= z.mean(axis=0)
    if scale:
        sd = np.sqrt(var[kept])
        if (sd == 0).any():
            raise ValueError("scale=True with a zero-variance gene; raise removeVar or use scale=False")
        z /= sd
    u, d, vt = np.linalg.svd(z, full_matrices=False)
    n = x.shape[0]
    pcs = [f"PC{i + 1}" for i in range(len(d))]
    sdev = d / np.sqrt(n - 1)
    total = len(kept) if scale else var[kept].sum()
    genes = mat.index[kept]
    return PcaResult(
        variance_percent=pd.Series(sdev**2 / total * 100, index=pcs, name="variance_percent"),
        sdev=pd.Series(sdev, index=pcs, name="sdev"),
        scores=pd.DataFrame(u * d, index=mat.columns, columns=pcs),
        loadings=pd.DataFrame(vt.T, index=genes, columns=pcs),
        removed=mat.shape[0] - len(kept),
    )


def find_elbow(variance: np.ndarray | pd.Series) -> int:
    """PCAtools ``findElbowPoint``: 1-based index of the point farthest below the first-to-last line."""
    y = np.asarray(variance, dtype=float)
    x = np.arange(1, len(y) + 1, dtype=float)
    if len(y) < 3:
        return len(y)
    dx, dy = x[-1] - x[0], y[-1] - y[0]
    # Signed perpendicular distance; points below the line have negative cross product.
    cross = dx * (y - y[0]) - dy * (x - x[0])
    distance = np.abs(cross) / np.hypot(dx, dy)
    below = cross < 0
    if not below.any():
        return len(y)
    candidates = np.where(below)[0]
    return int(candidates[np.argmax(distance[candidates])] + 1)


@dataclass(frozen=True)
class ParallelResult:
    n: int  # PCs to retain
    proportion: np.ndarray  # per PC: fraction of permutations with variance >= original
    permuted: np.ndarray  # iterations x PCs variance percent


def parallel_pca(
    mat: pd.DataFrame, iterations: int = 50, threshold: float = 0.1, remove_var: float | None = 0.1, scale: bool = False, seed: int = 0
) -> ParallelResult:
    """Horn's parallel analysis as PCAtools ``parallelPCA``: permute each gene across samples independently."""
    x = mat.to_numpy(dtype=float).T
    original = variance_percent(x, remove_var, scale)
    rng = np.random.default_rng(seed)
    permuted = np.empty((iterations, len(original)))
    for i in range(iterations):
        shuffled = rng.permuted(x, axis=0)  # each column (gene) permuted on its own
        permuted[i] = variance_percent(shuffled, remove_var, scale)
    proportion = (permuted >= original[None, :]).mean(axis=0)
    above = np.where(proportion > threshold)[0]
    n = int(above[0]) if len(above) else len(original)
    return ParallelResult(n=n, proportion=proportion, permuted=permuted)


def retained_loadings(loadings: pd.DataFrame, components: list[str], range_retain: float = 0.05) -> list:
    """PCAtools ``plotloadings``: genes within ``range_retain`` of each PC's loading range from either end."""
    keep: list = []
    for pc in components:
        values = loadings[pc]
        lo, hi = values.min(), values.max()
        margin = (hi - lo) * range_retain
        chosen = values.index[(values >= hi - margin) | (values <= lo + margin)]
        keep.extend(g for g in chosen if g not in keep)
    return keep


def ranked_pc_genes(loadings: pd.DataFrame, symbols: pd.Series, pc: str = "PC1") -> pd.DataFrame:
    """Genes by decreasing |loading| on ``pc``: gene, symbol, loading, rank."""
    values = loadings[pc]
    order = values.abs().sort_values(ascending=False, kind="stable").index
    return pd.DataFrame(
        {
            "gene": order,
            "symbol": symbols.reindex(order).to_numpy(),
            "loading": values.loc[order].to_numpy(),
            "rank": np.arange(1, len(order) + 1),
        }
    )
