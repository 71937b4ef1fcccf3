"""Read a GEO supplementary expression table and map its columns to the samples of the sheet.

GEO series ship tables in many shapes (TSV, CSV, XLSX; gzipped or not; Ensembl ids, symbols or both).
Every check here names the file and the column or row at fault, because the table is usually the first
thing a user gets wrong.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ID_COLUMNS = ("gene_id", "geneid", "gene", "ensembl_id", "ensembl", "id", "gene_id_version")
SYMBOL_COLUMNS = ("gene_symbol", "symbol", "gene_name", "genesymbol", "name")


class ExpressionError(ValueError):
    """A problem with the expression table, naming file and column/row."""


@dataclass(frozen=True)
class Expression:
    """Genes x samples values (index: gene id) with the gene symbols beside them."""

    values: pd.DataFrame
    symbols: pd.Series


def _read_any(path: Path) -> pd.DataFrame:
    name = path.name.lower()
    try:
        if name.endswith((".xlsx", ".xls")):
            return pd.read_excel(path)
        sep = "," if name.endswith((".csv", ".csv.gz")) else "\t"
        return pd.read_csv(path, sep=sep, compression="infer", low_memory=False)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ExpressionError(f"{path}: the compressed file is truncated or corrupt ({exc})") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ExpressionError(f"{path}: cannot parse the expression table: {exc}") from exc


def _find_column(columns: list[str], candidates: tuple[str, ...], wanted: str | None) -> str | None:
    if wanted:
        return wanted if wanted in columns else None
    lowered = {c.lower().replace(" ", "_"): c for c in columns}
    for cand in candidates:
        if cand in lowered:
            return lowered[cand]
    return None


def read_expression_table(
    path: str | Path,
    sample_columns: dict[str, str],
    id_column: str | None = None,
    symbol_column: str | None = None,
) -> Expression:
    """Values for ``sample_columns`` (sample -> table column), renamed to the sample ids.

    Without a recognised id column the first column is taken as the gene id; without a symbol column the
    id doubles as the symbol.
    """
    path = Path(path)
    table = _read_any(path)
    columns = [str(c) for c in table.columns]
    table.columns = columns
    ident = _find_column(columns, ID_COLUMNS, id_column) or (None if id_column else columns[0])
    if ident is None:
        raise ExpressionError(f"{path}: gene id column '{id_column}' not found; columns are {columns[:8]}...")
    symbol = _find_column(columns, SYMBOL_COLUMNS, symbol_column)
    if symbol_column and symbol is None:
        raise ExpressionError(f"{path}: gene symbol column '{symbol_column}' not found")
    missing = [f"{col} (sample {s})" for s, col in sample_columns.items() if col not in columns]
    if missing:
        raise ExpressionError(f"{path}: sample column(s) missing from the table: {', '.join(missing)}; the table has {columns}")
    ids = table[ident].astype(str).str.strip()
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        first = duplicated.iloc[0]
        rows = [str(i + 2) for i in duplicated.index[duplicated == first][:3]]
        raise ExpressionError(f"{path}: duplicated gene id '{first}' (rows {', '.join(rows)}) and {duplicated.nunique() - 1} more")
    for sample, col in sample_columns.items():
        column = table[col]
        numeric = column if pd.api.types.is_numeric_dtype(column) else pd.to_numeric(column, errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            shown = column.iloc[row]
            kind = "missing value (NaN)" if pd.isna(shown) else f"non-numeric value {shown!r}"
            raise ExpressionError(f"{path}: column '{col}' (sample {sample}), row {row + 2} (gene {ids.iloc[row]}): {kind}")
        negative = (numeric < 0).to_numpy()
        if negative.any():
            row = int(np.flatnonzero(negative)[0])
            raise ExpressionError(f"{path}: column '{col}' (sample {sample}), row {row + 2} (gene {ids.iloc[row]}): negative value {numeric.iloc[row]}")
        if not (numeric > 0).any():
            raise ExpressionError(f"{path}: column '{col}' (sample {sample}) is all zero")
        if numeric is not column:
            table[col] = numeric
    # One float copy of the sample columns, in sample order.
    values = table[list(sample_columns.values())].to_numpy(dtype=float)
    frame = pd.DataFrame(values, index=pd.Index(ids.to_numpy(), name="gene_id"), columns=list(sample_columns), copy=False)
    symbols = table[symbol].astype(str).str.strip() if symbol else ids
    return Expression(values=frame, symbols=pd.Series(symbols.to_numpy(), index=frame.index, name="symbol"))


def check_integer_counts(expr: Expression, path: str | Path) -> None:
    """Counts must be whole numbers: a table of RPKM labelled as counts would silently corrupt RPKM."""
    values = expr.values.to_numpy()
    for c in range(values.shape[1]):  # column by column: no matrix-sized temporaries
        column = values[:, c]
        fractional = np.abs(column - np.round(column)) > 1e-6
        if fractional.any():
            r = int(np.flatnonzero(fractional)[0])
            raise ExpressionError(
                f"{path}: rnaseq.values is 'counts' but column '{expr.values.columns[c]}' holds {column[r]} "
                f"(gene {expr.values.index[r]}); set rnaseq.values: rpkm for RPKM/FPKM tables"
            )
