"""Stem vs differentiated: DESeq2 (pydeseq2) across donors and per-donor fold changes (paper Fig. 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def paired_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """donor, stem sample, differentiated sample: donors that have both."""
    stem = samples[samples["condition"] == "stem"].set_index("donor")["sample"]
    diff = samples[samples["condition"] == "differentiated"].set_index("donor")["sample"]
    donors = [d for d in stem.index if d in diff.index]
    return pd.DataFrame(
        {"donor": donors, "stem": stem[donors].to_numpy(), "differentiated": diff[donors].to_numpy()}
    )


def deseq2(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    alpha: float = 0.05,
    design: str = "~donor + condition",
    min_total_count: int = 10,
    n_cpus: int = 1,
) -> pd.DataFrame:
    """Differentiated vs stem with design ``~ donor + condition``; counts are genes x samples.

    Genes with fewer than ``min_total_count`` reads over all samples are left out first (the usual DESeq2
    pre-filter: they cannot reach significance and dominate the run time). One pydeseq2 run through its
    public API; each gene is fitted on its own, so the result does not depend on ``n_cpus``.
    """
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    floor = max(min_total_count, 1)
    kept = counts[counts.to_numpy().sum(axis=1) >= floor]
    if kept.empty:
        raise ValueError(
            f"no gene has {floor} or more reads over all samples: nothing to test "
            "(rnaseq.differentiation.min_count)"
        )
    meta = samples.set_index("sample").loc[counts.columns, ["donor", "condition"]]
    inference = DefaultInference(n_cpus=n_cpus)
    dds = DeseqDataSet(
        counts=kept.round().astype(np.int64).T,
        metadata=meta,
        design=design,
        refit_cooks=True,
        inference=inference,
        quiet=True,
    )
    dds.deseq2()
    stats = DeseqStats(
        dds, contrast=["condition", "differentiated", "stem"], alpha=alpha, inference=inference, quiet=True
    )
    stats.summary()
    table = stats.results_df.copy()
    table.index.name = "gene_id"
    return table


def donor_log2_fold_changes(
    rpkm: pd.DataFrame, pairs: pd.DataFrame, pseudocount: float = 1.0
) -> pd.DataFrame:
    """genes x donors: log2((RPKM_differentiated + 1) / (RPKM_stem + 1)) within each donor."""
    out = {}
    for row in pairs.itertuples():
        out[row.donor] = np.log2(rpkm[row.differentiated] + pseudocount) - np.log2(
            rpkm[row.stem] + pseudocount
        )
    return pd.DataFrame(out, index=rpkm.index)
