"""Expression units."""

from __future__ import annotations

import numpy as np
import pandas as pd


def rpkm(counts: pd.DataFrame, lengths: pd.Series) -> pd.DataFrame:
    """Reads per kilobase per million mapped reads: counts (genes x samples) / (length kb x library M).

    Library size is each sample's total count over all genes in the table, as edgeR::rpkm does.
    """
    length_kb = lengths.reindex(counts.index).astype(float) / 1e3
    if length_kb.isna().any():
        missing = list(length_kb.index[length_kb.isna()][:5])
        raise ValueError(f"gene lengths missing for {int(length_kb.isna().sum())} gene(s), e.g. {missing}")
    library_m = counts.sum(axis=0).astype(float) / 1e6
    values = counts.to_numpy(dtype=float) / length_kb.to_numpy()[:, None] / library_m.to_numpy()[None, :]
    return pd.DataFrame(values, index=counts.index, columns=counts.columns)


def log2p1(values: pd.DataFrame) -> pd.DataFrame:
    return np.log2(values + 1.0)
