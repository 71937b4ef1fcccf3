"""The stemness / lineage marker table behind the dot plot (paper Fig. 3B)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morphopotency.rnaseq.symbols import clean_symbols


def read_markers(path: str | Path) -> pd.DataFrame:
    markers = pd.read_csv(path, sep="\t", comment="#", dtype=str)
    if list(markers.columns[:2]) != ["gene", "category"]:
        raise ValueError(
            f"{path}: the marker list needs the columns 'gene' and 'category', got {list(markers.columns)}"
        )
    return markers.dropna()


def marker_table(rpkm: pd.DataFrame, symbols: pd.Series, markers: pd.DataFrame) -> pd.DataFrame:
    """Long table gene, category, sample, rpkm, log2_rpkm, zscore (across samples); absent genes flagged.

    The z-score is of log2(RPKM+1) across the samples shown, the level is log2(RPKM+1) itself. A symbol
    that several ids share (real tables have a few) is shown by its most expressed id; genes without a
    symbol can be no marker.
    """
    symbols = clean_symbols(symbols.reindex(rpkm.index)).dropna()
    order = rpkm.loc[symbols.index].mean(axis=1).sort_values(ascending=False, kind="stable").index
    by_symbol = pd.Series(order, index=symbols.loc[order].to_numpy())
    by_symbol = by_symbol[~by_symbol.index.duplicated()]
    rows = []
    for gene, category in markers[["gene", "category"]].itertuples(index=False):
        if gene not in by_symbol.index:
            rows.append(
                {
                    "gene": gene,
                    "category": category,
                    "sample": "",
                    "rpkm": np.nan,
                    "log2_rpkm": np.nan,
                    "zscore": np.nan,
                    "present": False,
                }
            )
            continue
        level = np.log2(rpkm.loc[by_symbol[gene]] + 1)
        sd = level.std(ddof=1)
        z = (level - level.mean()) / sd if sd > 0 else level * 0
        for sample in rpkm.columns:
            rows.append(
                {
                    "gene": gene,
                    "category": category,
                    "sample": sample,
                    "rpkm": float(rpkm.at[by_symbol[gene], sample]),
                    "log2_rpkm": float(level[sample]),
                    "zscore": float(z[sample]),
                    "present": True,
                }
            )
    return pd.DataFrame(rows)
