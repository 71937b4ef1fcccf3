"""Read a GEO supplementary expression table and map its columns to the samples of the sheet.

GEO series ship tables in many shapes (TSV, CSV, XLSX; gzipped or not; Ensembl ids, symbols or both).
Every check here names the file and the column or row at fault, because the table is usually the first
thing a user gets wrong.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from morphopotency.rnaseq.symbols import clean_symbols

ID_COLUMNS = ("gene_id", "geneid", "gene", "ensembl_id", "ensembl", "id", "gene_id_version")
SYMBOL_COLUMNS = ("gene_symbol", "symbol", "gene_name", "genesymbol", "name")


class ExpressionError(ValueError):
    """A problem with the expression table, naming file and column/row."""


@dataclass(frozen=True)
class Expression:
    """Genes x samples values (index: gene id) with the gene symbols beside them."""

    values: pd.DataFrame
    symbols: pd.Series


CHUNK_ROWS = 20_000


def _is_excel(path: Path) -> bool:
    return path.name.lower().endswith((".xlsx", ".xls"))


@contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Every read of ``path``: parser and codec failures become errors naming the file."""
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ExpressionError(f"{path}: the compressed file is truncated or corrupt ({exc})") from exc
    except ExpressionError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ExpressionError(f"{path}: cannot parse the expression table: {exc}") from exc


def _separator(path: Path) -> str:
    return "," if path.name.lower().endswith((".csv", ".csv.gz")) else "\t"


def _header(path: Path) -> list[str]:
    with _reading(path):
        if _is_excel(path):
            return [str(c) for c in pd.read_excel(path, nrows=0).columns]
        return [str(c) for c in pd.read_csv(path, sep=_separator(path), compression="infer", nrows=0).columns]


def _chunks(path: Path, usecols: list[str], text: list[str]) -> Iterator[pd.DataFrame]:
    """The table's rows in blocks, only the columns used, gene ids and symbols read as text.

    Reading in blocks keeps the parse to the float matrix this module returns plus one block: a whole-table
    ``read_csv`` holds every column and then a consolidated copy of them (two matrices), and would also
    read annotation or other samples' columns that no one asked for. XLSX has no streaming reader in
    pandas and comes in one block.
    """
    dtype = {c: str for c in text}
    with _reading(path):
        if _is_excel(path):
            table = pd.read_excel(path, usecols=usecols, dtype=dtype)
            table.columns = [str(c) for c in table.columns]
            yield table
            return
        with pd.read_csv(
            path,
            sep=_separator(path),
            compression="infer",
            usecols=usecols,
            dtype=dtype,
            chunksize=CHUNK_ROWS,
        ) as reader:
            for block in reader:
                block.columns = [str(c) for c in block.columns]
                yield block


def _numeric_block(
    path: Path, block: pd.DataFrame, sample_columns: dict[str, str], ids: pd.Series, first_row: int
) -> np.ndarray:
    """The block's sample columns as floats, refusing text, NaN and negatives by file row and gene."""
    out = np.empty((len(block), len(sample_columns)))
    for j, (sample, col) in enumerate(sample_columns.items()):
        column = block[col]
        numeric = column if pd.api.types.is_numeric_dtype(column) else pd.to_numeric(column, errors="coerce")
        bad = numeric.isna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            shown = column.iloc[row]
            kind = "missing value (NaN)" if pd.isna(shown) else f"non-numeric value {shown!r}"
            raise ExpressionError(
                f"{path}: column '{col}' (sample {sample}), row {first_row + row} (gene "
                f"{ids.iloc[row]}): {kind}"
            )
        negative = (numeric < 0).to_numpy()
        if negative.any():
            row = int(np.flatnonzero(negative)[0])
            raise ExpressionError(
                f"{path}: column '{col}' (sample {sample}), row {first_row + row} (gene "
                f"{ids.iloc[row]}): negative value {numeric.iloc[row]}"
            )
        out[:, j] = numeric.to_numpy(dtype=float)
    return out


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
    id doubles as the symbol. Rows in messages are file lines (the header is line 1).
    """
    path = Path(path)
    columns = _header(path)
    ident = _find_column(columns, ID_COLUMNS, id_column) or (None if id_column else columns[0])
    if ident is None:
        raise ExpressionError(f"{path}: gene id column '{id_column}' not found; columns are {columns[:8]}...")
    symbol = _find_column(columns, SYMBOL_COLUMNS, symbol_column)
    if symbol_column and symbol is None:
        raise ExpressionError(f"{path}: gene symbol column '{symbol_column}' not found")
    missing = [f"{col} (sample {s})" for s, col in sample_columns.items() if col not in columns]
    if missing:
        raise ExpressionError(
            f"{path}: sample column(s) missing from the table: {', '.join(missing)}; the table has {columns}"
        )
    text = [ident] + ([symbol] if symbol and symbol != ident else [])
    usecols = list(dict.fromkeys(text + list(sample_columns.values())))
    id_parts, symbol_parts, blocks = [], [], []
    first_row = 2
    for block in _chunks(path, usecols, text):
        block_ids = block[ident].astype(str).str.strip()
        blocks.append(_numeric_block(path, block, sample_columns, block_ids, first_row))
        id_parts.append(block_ids.to_numpy())
        symbol_parts.append(clean_symbols(block[symbol]).to_numpy() if symbol else None)
        first_row += len(block)
    ids = pd.Series(np.concatenate(id_parts) if id_parts else np.array([], dtype=object))
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        first = duplicated.iloc[0]
        rows = [str(i + 2) for i in duplicated.index[duplicated == first][:3]]
        raise ExpressionError(
            f"{path}: duplicated gene id '{first}' (rows {', '.join(rows)}) and "
            f"{duplicated.nunique() - 1} more"
        )
    # One block is used as it is; several are concatenated, two matrices for that moment only.
    if len(blocks) == 1:
        values = blocks[0]
    else:
        values = np.concatenate(blocks) if blocks else np.empty((0, len(sample_columns)))
    del blocks
    for j, (sample, col) in enumerate(sample_columns.items()):
        if not (values[:, j] > 0).any():
            raise ExpressionError(f"{path}: column '{col}' (sample {sample}) is all zero")
    index = pd.Index(ids.to_numpy(), name="gene_id")
    frame = pd.DataFrame(values, index=index, columns=list(sample_columns), copy=False)
    symbols = np.concatenate(symbol_parts) if symbol else ids.to_numpy()
    return Expression(values=frame, symbols=pd.Series(symbols, index=index, name="symbol"))


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
