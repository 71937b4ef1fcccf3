"""Gene symbols as real GEO tables give them: blank for many Ensembl ids, duplicated for a few. A gene
without a symbol keeps its place in every table under its id; it only matches no gene set."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd


def clean_symbols(symbols: pd.Series) -> pd.Series:
    """Stripped text, with blank and missing symbols as NaN (never the text 'nan')."""
    text = symbols.astype("string").str.strip()
    named = (text.notna() & (text != "")).to_numpy(dtype=bool)
    return pd.Series(np.where(named, text.astype(object), np.nan), index=symbols.index, name=symbols.name)


def named_genes(symbols: Iterable[object]) -> set[str]:
    """The symbols that can match a gene set: strings that are not blank (NaN, None and '' dropped)."""
    return {s.strip() for s in symbols if isinstance(s, str) and s.strip()}


def display_names(symbols: pd.Series) -> pd.Series:
    """A figure's label for each gene: its symbol, or its id where it has none."""
    return clean_symbols(symbols).fillna(pd.Series(symbols.index, index=symbols.index).astype(str))
