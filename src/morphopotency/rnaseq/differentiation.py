"""Stem vs differentiated: DESeq2 (pydeseq2) across donors and per-donor fold changes (paper Fig. 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydeseq2.dds import DeseqDataSet
from pydeseq2.default_inference import DefaultInference
from pydeseq2.ds import DeseqStats


def paired_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """donor, stem sample, differentiated sample: donors that have both."""
    stem = samples[samples["condition"] == "stem"].set_index("donor")["sample"]
    diff = samples[samples["condition"] == "differentiated"].set_index("donor")["sample"]
    donors = [d for d in stem.index if d in diff.index]
    return pd.DataFrame({"donor": donors, "stem": stem[donors].to_numpy(), "differentiated": diff[donors].to_numpy()})


def deseq2(
    counts: pd.DataFrame, samples: pd.DataFrame, alpha: float = 0.05, design: str = "~donor + condition", min_total_count: int = 10, n_cpus: int = 1
) -> pd.DataFrame:
    """Differentiated vs stem with design ``~ donor + condition``; counts are genes x samples.

    Genes with fewer than ``min_total_count`` reads over all samples are left out first (the usual DESeq2
    pre-filter: they cannot reach significance and dominate the run time). Each gene is fitted on its
    own, so the result does not depend on ``n_cpus``.
    """
    meta = samples.set_index("sample").loc[counts.columns, ["donor", "condition"]]
    keep = counts.sum(axis=1) >= max(min_total_count, 1)
    dds = DeseqDataSet(
        counts=counts.loc[keep].T.round().astype(int),
        metadata=meta,
        design=design,
        refit_cooks=True,
        inference=DefaultInference(n_cpus=n_cpus),
        quiet=True,
        low_memory=True,
    )
    dds.deseq2()
    stats = DeseqStats(dds, contrast=["condition", "differentiated", "stem"], alpha=alpha, inference=DefaultInference(n_cpus=n_cpus), quiet=True)
    stats.summary()
    table = stats.results_df.copy()
    table.index.name = "gene_id"
    return table


def donor_log2_fold_changes(rpkm: pd.DataFrame, pairs: pd.DataFrame, pseudocount: float = 1.0) -> pd.DataFrame:
    """genes x donors: log2((RPKM_differentiated + 1) / (RPKM_stem + 1)) within each donor."""
    out = {}
    for row in pairs.itertuples():
        out[row.donor] = np.log2(rpkm[row.differentiated] + pseudocount) - np.log2(rpkm[row.stem] + pseudocount)
    return pd.DataFrame(out, index=rpkm.index)
