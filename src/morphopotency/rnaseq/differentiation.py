"""Stem vs differentiated: DESeq2 (pydeseq2) across donors and per-donor fold changes (paper Fig. 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from morphopotency.rnaseq.deseq_chunked import chunked_deseq2


def paired_samples(samples: pd.DataFrame) -> pd.DataFrame:
    """donor, stem sample, differentiated sample: donors that have both."""
    stem = samples[samples["condition"] == "stem"].set_index("donor")["sample"]
    diff = samples[samples["condition"] == "differentiated"].set_index("donor")["sample"]
    donors = [d for d in stem.index if d in diff.index]
    return pd.DataFrame({"donor": donors, "stem": stem[donors].to_numpy(), "differentiated": diff[donors].to_numpy()})


def deseq2(
    counts: pd.DataFrame,
    samples: pd.DataFrame,
    alpha: float = 0.05,
    design: str = "~donor + condition",
    min_total_count: int = 10,
    n_cpus: int = 1,
    chunk_genes: int = 1000,
) -> pd.DataFrame:
    """Differentiated vs stem with design ``~ donor + condition``; counts are genes x samples.

    Genes with fewer than ``min_total_count`` reads over all samples are left out first (the usual DESeq2
    pre-filter: they cannot reach significance and dominate the run time). Each gene is fitted on its
    own, so the result depends neither on ``n_cpus`` nor on ``chunk_genes`` (genes fitted together).
    """
    meta = samples.set_index("sample").loc[counts.columns, ["donor", "condition"]]
    table = chunked_deseq2(
        counts, meta, design, ["condition", "differentiated", "stem"], alpha, min_total_count=min_total_count, n_cpus=n_cpus, chunk_genes=chunk_genes
    )
    table.index.name = "gene_id"
    return table


def donor_log2_fold_changes(rpkm: pd.DataFrame, pairs: pd.DataFrame, pseudocount: float = 1.0) -> pd.DataFrame:
    """genes x donors: log2((RPKM_differentiated + 1) / (RPKM_stem + 1)) within each donor."""
    out = {}
    for row in pairs.itertuples():
        out[row.donor] = np.log2(rpkm[row.differentiated] + pseudocount) - np.log2(rpkm[row.stem] + pseudocount)
    return pd.DataFrame(out, index=rpkm.index)
