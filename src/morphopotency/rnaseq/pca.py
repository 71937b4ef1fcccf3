"""PCA with Bioconductor PCAtools semantics (``pca``, ``findElbowPoint``, ``parallelPCA``, ``plotloadings``).

The paper ran ``PCAtools::pca(mat, removeVar = 0.1)``. scikit-learn's PCA differs in what it removes,
how it scales variance and how it orders genes, so the few lines that define PCAtools' numbers are kept
here, on numpy's exact SVD (see ``shared/specs/pcatools.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg


@dataclass(frozen=True)
class PcaResult:
    """PCAtools' ``pca`` object: genes in ``loadings`` rows follow decreasing variance."""

    variance_percent: pd.Series  # index PC1..PCk
    sdev: pd.Series
    scores: pd.DataFrame  # samples x PCs ("rotated")
    loadings: pd.DataFrame  # kept genes x PCs (unit columns)
    removed: int  # genes removed by removeVar


def gene_variance(x: np.ndarray, chunk: int = 8192) -> np.ndarray:
    """Sample variance (n - 1) of each column of samples x genes ``x``, in chunks of genes so the
    temporaries stay small rather than matrix-sized."""
    return np.concatenate([x[:, i : i + chunk].var(axis=0, ddof=1) for i in range(0, x.shape[1], chunk)])


def _kept_genes(x: np.ndarray, remove_var: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Indices of genes kept by removeVar, in decreasing-variance order (stable: ties keep input order)."""
    var = gene_variance(x)
    order = np.argsort(-var, kind="stable")
    p = x.shape[1]
    if remove_var is None or remove_var <= 0:
        return order, var
    keep = max(1, int(np.floor(p * (1 - remove_var))))
    return order[:keep], var


def _gram_variance_percent(z: np.ndarray, total: float) -> np.ndarray:
    """Variance % of the PCs of centred ``z`` (samples x genes) from the small samples x samples Gram
    matrix: the same eigenvalues as the SVD's d**2, without a matrix-sized copy."""
    eig = np.linalg.eigvalsh(z @ z.T)[::-1].clip(min=0)
    return eig / (z.shape[0] - 1) / total * 100


def pcatools_pca(mat: pd.DataFrame, remove_var: float | None = 0.1, scale: bool = False) -> PcaResult:
    """PCA of a genes x samples matrix exactly as ``PCAtools::pca(mat, center=TRUE, scale, removeVar)``."""
    if mat.shape[1] < 2:
        raise ValueError(f"PCA needs at least 2 samples, got {mat.shape[1]}")
    values = mat.to_numpy(dtype=float)  # genes x samples: a view when the frame is one float block
    x = values.T
    kept, var = _kept_genes(x, remove_var)
    # The one working copy: kept genes in variance order, Fortran-ordered (samples x genes) so LAPACK
    # can overwrite it in place rather than copying it again.
    z = values[kept].T
    z -= z.mean(axis=0)
    if scale:
        sd = np.sqrt(var[kept])
        if (sd == 0).any():
            raise ValueError("scale=True with a zero-variance gene; raise removeVar or use scale=False")
        z /= sd
    u, d, vt = linalg.svd(z, full_matrices=False, overwrite_a=True, check_finite=False, lapack_driver="gesdd")
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
    mat: pd.DataFrame,
    iterations: int = 50,
    threshold: float = 0.1,
    remove_var: float | None = 0.1,
    scale: bool = False,
    seed: int = 0,
) -> ParallelResult:
    """Horn's parallel analysis as PCAtools ``parallelPCA``: permute each gene across samples independently.

    Permuting a gene across samples leaves its variance unchanged, so removeVar re-applied to permuted
    data keeps the same genes: only those are permuted, in one reused buffer.
    """
    values = mat.to_numpy(dtype=float)
    kept, var = _kept_genes(values.T, remove_var)
    total = len(kept) if scale else var[kept].sum()
    work = values[kept].T.copy()  # samples x kept genes: the only copy
    work -= work.mean(axis=0)
    if scale:
        work /= np.sqrt(var[kept])
    original = _gram_variance_percent(work, total)
    rng = np.random.default_rng(seed)
    permuted = np.empty((iterations, len(original)))
    for i in range(iterations):
        # Permuting an already permuted (and centred) column is again a uniform random permutation of
        # the original column, so the one buffer serves every iteration; centring is preserved.
        rng.permuted(work, axis=0, out=work)
        permuted[i] = _gram_variance_percent(work, total)
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
