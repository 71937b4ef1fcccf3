"""pydeseq2 wrapper: paired design, pre-filter, and results independent of the number of workers."""

import numpy as np
import pandas as pd

from morphopotency.rnaseq.differentiation import deseq2, donor_log2_fold_changes, paired_samples

SAMPLES = pd.DataFrame(
    {"sample": ["S1", "S2", "S3", "D1", "D2", "D3"], "donor": ["a", "b", "c", "a", "b", "c"], "condition": ["stem"] * 3 + ["differentiated"] * 3}
)


def counts(seed=0, genes=300):
    rng = np.random.default_rng(seed)
    mean = rng.lognormal(5, 1.5, genes)
    donor = rng.lognormal(0, 0.2, (genes, 3))
    up = np.ones(genes)
    up[:30] = 4.0  # planted: 30 genes up 4x on differentiation
    table = np.column_stack([rng.poisson(mean * donor[:, i]) for i in range(3)] + [rng.poisson(mean * donor[:, i] * up) for i in range(3)])
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
    pairs = paired_samples(pd.concat([SAMPLES, pd.DataFrame([{"sample": "S9", "donor": "z", "condition": "stem"}])]))
    assert pairs.to_dict("list") == {"donor": ["a", "b", "c"], "stem": ["S1", "S2", "S3"], "differentiated": ["D1", "D2", "D3"]}
    rpkm = pd.DataFrame({"S1": [1.0, 7.0], "D1": [3.0, 0.0], "S2": [0, 0], "D2": [0, 0], "S3": [0, 0], "D3": [0, 0]}, index=["g1", "g2"])
    lfc = donor_log2_fold_changes(rpkm, pairs)
    assert lfc.at["g1", "a"] == 1.0 and lfc.at["g2", "a"] == -3.0
