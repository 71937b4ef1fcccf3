"""pydeseq2 wrapper: paired design, pre-filter, and results independent of the number of workers."""

import numpy as np
import pandas as pd

from morphopotency.rnaseq.differentiation import deseq2, donor_log2_fold_changes, paired_samples

SAMPLES = pd.DataFrame(
    {
        "sample": ["S1", "S2", "S3", "D1", "D2", "D3"],
        "donor": ["a", "b", "c", "a", "b", "c"],
        "condition": ["stem"] * 3 + ["differentiated"] * 3,
    }
)


def counts(seed=0, genes=300):
    rng = np.random.default_rng(seed)
    mean = rng.lognormal(5, 1.5, genes)
    donor = rng.lognormal(0, 0.2, (genes, 3))
    up = np.ones(genes)
    up[:30] = 4.0  # planted: 30 genes up 4x on differentiation
    table = np.column_stack(
        [rng.poisson(mean * donor[:, i]) for i in range(3)]
        + [rng.poisson(mean * donor[:, i] * up) for i in range(3)]
    )
    table[-5:] = 0
    table[-5:, 0] = 3  # 5 genes with 3 reads in all: below the pre-filter
    return pd.DataFrame(table, index=[f"g{i}" for i in range(genes)], columns=SAMPLES["sample"])


def test_paired_design_recovers_planted_genes_and_prefilters():
    table = counts()
    result = deseq2(table, SAMPLES, alpha=0.05, min_total_count=10)
    assert set(result.index) == set(table.index[table.sum(axis=1) >= 10])
    assert not {f"g{i}" for i in range(295, 300)} & set(result.index)  # 3 reads in all: not tested
    hits = set(result.index[(result["padj"] < 0.05) & (result["log2FoldChange"] > 1)])
    assert len(hits & {f"g{i}" for i in range(30)}) >= 25
    assert len(hits - {f"g{i}" for i in range(30)}) <= 3


def test_result_does_not_depend_on_workers():
    one = deseq2(counts(1), SAMPLES, n_cpus=1)
    two = deseq2(counts(1), SAMPLES, n_cpus=2)
    pd.testing.assert_frame_equal(one, two)


def test_pairs_and_per_donor_fold_changes():
    pairs = paired_samples(
        pd.concat([SAMPLES, pd.DataFrame([{"sample": "S9", "donor": "z", "condition": "stem"}])])
    )
    assert pairs.to_dict("list") == {
        "donor": ["a", "b", "c"],
        "stem": ["S1", "S2", "S3"],
        "differentiated": ["D1", "D2", "D3"],
    }
    rpkm = pd.DataFrame(
        {"S1": [1.0, 7.0], "D1": [3.0, 0.0], "S2": [0, 0], "D2": [0, 0], "S3": [0, 0], "D3": [0, 0]},
        index=["g1", "g2"],
    )
    lfc = donor_log2_fold_changes(rpkm, pairs)
    assert lfc.at["g1", "a"] == 1.0 and lfc.at["g2", "a"] == -3.0


def plain_pydeseq2(table: pd.DataFrame, meta: pd.DataFrame, design: str, alpha: float):
    """One pydeseq2 run as its documentation shows: the reference for our wrapper."""
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.ds import DeseqStats

    dds = DeseqDataSet(counts=table.T, metadata=meta, design=design, refit_cooks=True, quiet=True)
    dds.deseq2()
    stats = DeseqStats(dds, contrast=["condition", "differentiated", "stem"], alpha=alpha, quiet=True)
    stats.summary()
    return stats.results_df, dds


def assert_same_results(ours: pd.DataFrame, plain: pd.DataFrame) -> None:
    assert list(ours.index) == list(plain.index)
    for column in ["baseMean", "log2FoldChange", "lfcSE", "stat", "pvalue", "padj"]:
        np.testing.assert_allclose(ours[column], plain[column], rtol=1e-6, atol=1e-12, err_msg=column)
        assert ours[column].isna().equals(plain[column].isna()), column


def test_wrapper_equals_one_pydeseq2_run_on_the_paired_design():
    """Pre-filtered genes only, the contrast differentiated vs stem, the paired design."""
    table = counts(2)
    meta = SAMPLES.set_index("sample")[["donor", "condition"]]
    ours = deseq2(table, SAMPLES, alpha=0.05)
    assert (ours["padj"] < 0.05).sum() >= 25
    plain, dds = plain_pydeseq2(table[table.sum(axis=1) >= 10], meta, "~donor + condition", 0.05)
    assert_same_results(ours, plain)


def test_wrapper_equals_pydeseq2_where_cooks_outliers_are_replaced_and_refitted():
    # Seven replicates per condition: pydeseq2 replaces outlier counts and refits those genes. Negative
    # binomial counts whose dispersion falls with the mean, so the parametric trend converges.
    rng = np.random.default_rng(5)
    n, genes = 7, 240
    mean = rng.lognormal(5, 1.2, genes)
    dispersion = (0.05 + 2 / mean)[:, None]
    up = np.where(np.arange(genes) < 20, 3.0, 1.0)[:, None]
    mu = mean[:, None] * np.hstack([np.ones((genes, n)), np.repeat(up, n, axis=1)])
    table = rng.negative_binomial(1 / dispersion, 1 / (1 + mu * dispersion))
    table[40:46, 3] *= 40  # planted outliers in single samples
    names = [f"S{i}" for i in range(n)] + [f"D{i}" for i in range(n)]
    frame = pd.DataFrame(table, index=[f"g{i}" for i in range(genes)], columns=names)
    samples = pd.DataFrame(
        {
            "sample": names,
            "donor": [f"d{i}" for i in range(2 * n)],
            "condition": ["stem"] * n + ["differentiated"] * n,
        }
    )
    ours = deseq2(frame, samples, alpha=0.1, design="~condition")
    plain, dds = plain_pydeseq2(
        frame[frame.sum(axis=1) >= 10], samples.set_index("sample")[["donor", "condition"]], "~condition", 0.1
    )
    assert (
        dds.uns["disp_function_type"] == "parametric" and dds.var["refitted"].sum() >= 5
    )  # the paths under test
    assert_same_results(ours, plain)


def test_a_table_with_no_gene_over_the_prefilter_is_refused_by_name():
    import pytest

    with pytest.raises(ValueError, match="no gene has 10 or more reads over all samples"):
        deseq2(counts(0) * 0, SAMPLES)
