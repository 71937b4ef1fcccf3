"""TSV tables exchanged between rules: always written atomically, expression with its symbols."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from morphopotency.io.atomic import atomic_path


def write_tsv(
    frame: pd.DataFrame, path: str | Path, index: bool = False, float_format: str | None = "%.10g"
) -> None:
    """A TSV with a fixed float format, so identical numbers give identical bytes across runs."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=index, float_format=float_format)


def write_expression(values: pd.DataFrame, symbols: pd.Series, path: str | Path) -> None:
    """gene_id, symbol, one column per sample."""
    frame = values.copy()
    frame.insert(0, "symbol", symbols.reindex(values.index).to_numpy())
    frame.index.name = "gene_id"
    write_tsv(frame, path, index=True)


def read_expression(path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(path, sep="\t", index_col="gene_id", dtype={"gene_id": str, "symbol": str})
    symbols = frame.pop("symbol")
    return frame, symbols
