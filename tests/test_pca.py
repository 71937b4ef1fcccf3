"""PCAtools semantics (shared/specs/pcatools.md) against hand-worked values and an independent eigen-solve."""

import numpy as np
import pandas as pd
import pytest

from morphopotency.rnaseq.pca import (
    find_elbow,
    parallel_pca,
    pcatools_pca,
    ranked_pc_genes,
    retained_loadings,
)


def test_remove_var_keeps_floor_and_breaks_ties_by_input_order():
    # Sample variances (n-1): g1 = 3, g2 = 1, g3 = 0, g4 = 1 (ties with g2, comes later in the input).
    mat = pd.DataFrame(
        {"a": [0, 1, 0, 2], "b": [0, 2, 0, 0], "c": [3, 3, 0, 1]}, index=["g1", "g2", "g3", "g4"], dtype=float
    )
    result = pcatools_pca(mat, remove_var=0.25)
    assert list(result.loadings.index) == [
        "g1",
        "g2",
        "g4",
    ]  # floor(4 * 0.75) = 3 kept, by variance, ties stable
    assert result.removed == 1
    # Variance % over the kept genes' total variance 3 + 1 + 1 = 5; sums to 100 over all PCs.
    assert result.variance_percent.sum() == pytest.approx(100)
    # Independent: eigenvalues of the kept genes' sample covariance.
    kept = mat.loc[["g1", "g2", "g4"]].T.to_numpy()
    eig = np.sort(np.linalg.eigvalsh(np.cov(kept, rowvar=False)))[::-1][:3]
    assert np.allclose(result.sdev.to_numpy() ** 2, eig, atol=1e-12)
    assert np.allclose(result.variance_percent.to_numpy(), eig / 5 * 100, atol=1e-10)


def test_remove_var_keeps_at_least_one_gene():
    mat = pd.DataFrame(np.arange(6, dtype=float).reshape(2, 3), index=["g1", "g2"])
    assert len(pcatools_pca(mat, remove_var=0.99).loadings) == 1


def test_matches_independent_svd_and_gives_five_pcs_for_five_samples():
    rng = np.random.default_rng(0)
    mat = pd.DataFrame(
        rng.normal(size=(200, 5)) * rng.uniform(0.1, 3, size=(200, 1)),
        index=[f"g{i}" for i in range(200)],
        columns=list("ABCDE"),
    )
    result = pcatools_pca(mat, remove_var=0.1)
    assert result.scores.shape == (5, 5) and result.loadings.shape == (180, 5)
    assert result.variance_percent.iloc[-1] < 1e-20  # centred 5 samples: the last PC is null
    # Independent route: eigen-decomposition of the covariance of the 180 most variable genes.
    var = mat.var(axis=1, ddof=1)
    kept = var.sort_values(ascending=False, kind="stable").index[:180]
    x = mat.loc[kept].T.to_numpy()
    w, v = np.linalg.eigh(np.cov(x, rowvar=False))
    w, v = w[::-1][:4], v[:, ::-1][:, :4]
    assert np.allclose(result.sdev.to_numpy()[:4] ** 2, w, rtol=1e-10)
    assert np.allclose(result.variance_percent.to_numpy()[:4], w / var[kept].sum() * 100, rtol=1e-10)
    for k in range(4):  # signs are arbitrary: compare up to sign
        a, b = result.loadings.iloc[:, k].to_numpy(), v[:, k]
        assert min(np.abs(a - b).max(), np.abs(a + b).max()) < 1e-8
        scores = (x - x.mean(axis=0)) @ v[:, k]
        s = result.scores.iloc[:, k].to_numpy()
        assert min(np.abs(s - scores).max(), np.abs(s + scores).max()) < 1e-8


def test_scaled_variance_is_over_the_number_of_kept_genes():
    rng = np.random.default_rng(1)
    mat = pd.DataFrame(rng.normal(size=(50, 6)), index=[f"g{i}" for i in range(50)])
    result = pcatools_pca(mat, remove_var=0.1, scale=True)
    z = mat.loc[result.loadings.index].T
    z = (z - z.mean()) / z.std(ddof=1)
    eig = np.sort(np.linalg.eigvalsh(np.cov(z.to_numpy(), rowvar=False)))[::-1][:5]
    assert np.allclose(result.variance_percent.to_numpy()[:5], eig / 45 * 100, rtol=1e-10)


@pytest.mark.parametrize(
    ("curve", "elbow"),
    [([50, 20, 15, 10, 5], 2), ([60, 25, 10, 3, 2], 3), ([50, 48, 45, 40, 5], 5), ([40, 35, 10, 8, 7], 3)],
)
def test_find_elbow(curve, elbow):
    # Worked by hand, e.g. [60, 25, 10, 3, 2]: the line 60 -> 2 passes 45.5, 31, 16.5 at PC2-4, so the
    # vertical (hence perpendicular) gaps are 20.5, 21, 13.5: PC3. [50, 48, 45, 40, 5]: nothing below: last.
    assert find_elbow(curve) == elbow


def test_parallel_analysis_keeps_structure_and_rejects_noise():
    rng = np.random.default_rng(2)
    noise = pd.DataFrame(rng.normal(size=(400, 8)))
    assert parallel_pca(noise, iterations=30, seed=0).n == 0
    structured = noise.copy()
    structured.iloc[:100, :4] += 4  # one strong axis: samples 0-3 vs 4-7 on 100 genes
    result = parallel_pca(structured, iterations=30, seed=0)
    assert result.n == 1 and result.proportion[0] == 0


def test_retained_loadings_takes_both_tails_of_each_pc():
    loadings = pd.DataFrame(
        {"PC1": [1.0, 0.97, 0.5, 0.0, -1.0], "PC2": [0.0, 0.1, 1.0, -0.99, 0.2]},
        index=["a", "b", "c", "d", "e"],
    )
    # PC1 range 2 -> margin 0.1: >= 0.9 (a, b) and <= -0.9 (e); PC2 range 1.99 -> margin ~0.0995: c and d.
    assert retained_loadings(loadings, ["PC1", "PC2"], 0.05) == ["a", "b", "e", "c", "d"]


def test_ranked_pc_genes_by_absolute_loading():
    loadings = pd.DataFrame({"PC1": [0.1, -0.9, 0.5]}, index=["g1", "g2", "g3"])
    table = ranked_pc_genes(loadings, pd.Series({"g1": "A", "g2": "B", "g3": "C"}))
    assert list(table["symbol"]) == ["B", "C", "A"] and list(table["rank"]) == [1, 2, 3]
    assert table["loading"].iloc[0] == -0.9
