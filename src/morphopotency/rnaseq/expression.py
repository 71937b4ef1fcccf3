"""Expression units: counts to RPKM, log scale, expressed genes; and the table-to-RPKM step."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from morphopotency.rnaseq.ingest import ExpressionError, check_integer_counts, read_expression_table
from morphopotency.rnaseq.lengths import gtf_exonic_lengths, lengths_for, read_length_table


def rpkm(counts: pd.DataFrame, lengths: pd.Series) -> pd.DataFrame:
    """Reads per kilobase per million mapped reads: counts (genes x samples) / (length kb x library M).

    Library size is each sample's total count over all genes in the table, as edgeR::rpkm does.
    """
    length_kb = lengths.reindex(counts.index).astype(float) / 1e3
    if length_kb.isna().any():
        missing = list(length_kb.index[length_kb.isna()][:5])
        raise ValueError(f"gene lengths missing for {int(length_kb.isna().sum())} gene(s), e.g. {missing}")
    library_m = counts.sum(axis=0).astype(float) / 1e6
    values = counts.to_numpy(dtype=float, copy=True)  # the one output copy, scaled in place
    values /= length_kb.to_numpy()[:, None]
    values /= library_m.to_numpy()[None, :]
    return pd.DataFrame(values, index=counts.index, columns=counts.columns, copy=False)


def log2p1(values: pd.DataFrame) -> pd.DataFrame:
    return np.log2(values + 1.0)


def expressed(values: pd.DataFrame, min_rpkm: float) -> pd.Index:
    """Genes at or above ``min_rpkm`` in at least one sample: the enrichment background."""
    return values.index[(values >= min_rpkm).any(axis=1)]


@dataclass(frozen=True)
class ExpressionSet:
    """What the rest of the branch reads: RPKM (and counts when the table had them), with symbols."""

    rpkm: pd.DataFrame
    counts: pd.DataFrame | None
    symbols: pd.Series
    dropped: list[str]  # genes without a length (counts input only)


def build_expression(
    table: str | Path,
    sample_columns: dict[str, str],
    values: str,
    gene_lengths: str | Path | None = None,
    gtf: str | Path | None = None,
    id_column: str | None = None,
    symbol_column: str | None = None,
) -> ExpressionSet:
    """Read the table and return RPKM: computed from counts and gene lengths, or kept if already RPKM."""
    expr = read_expression_table(table, sample_columns, id_column, symbol_column)
    if values == "rpkm":
        return ExpressionSet(rpkm=expr.values, counts=None, symbols=expr.symbols, dropped=[])
    check_integer_counts(expr, table)
    if gtf:
        lengths, source = gtf_exonic_lengths(gtf), str(gtf)
    elif gene_lengths:
        lengths, source = read_length_table(gene_lengths), str(gene_lengths)
    else:
        raise ExpressionError(
            f"{table}: rnaseq.values is 'counts' but neither rnaseq.gene_lengths nor rnaseq.gtf is given"
        )
    counts, symbols = expr.values, expr.symbols
    del expr  # from here on only ``counts`` holds the table: at most counts + RPKM are alive at once
    found, missing = lengths_for(counts.index, lengths, source)
    if missing:  # the subset replaces the table rather than sitting beside it
        counts, symbols = counts.loc[found.index], symbols.loc[found.index]
    return ExpressionSet(rpkm=rpkm(counts, found), counts=counts, symbols=symbols, dropped=missing)
