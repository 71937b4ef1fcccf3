"""Gene lengths for RPKM: a table of lengths, or exonic lengths (merged exons per gene) from a GTF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from morphopotency.rnaseq.ingest import ExpressionError

LENGTH_COLUMNS = ("length", "exonic_length_bp", "exonic_length", "gene_length", "len")
ID_COLUMNS = ("gene_id", "gene_id_version", "gene", "id")


def strip_version(ids: pd.Index | pd.Series) -> pd.Index:
    """ENSG00000000003.14 -> ENSG00000000003, so tables with and without versions match."""
    return pd.Index([str(i).split(".")[0] if str(i).startswith("ENS") else str(i) for i in ids])


def read_length_table(path: str | Path) -> pd.Series:
    """gene id -> length (bp) from a TSV/CSV with a gene id and a length column."""
    path = Path(path)
    sep = "," if path.name.lower().endswith((".csv", ".csv.gz")) else "\t"
    table = pd.read_csv(path, sep=sep, compression="infer")
    lowered = {c.lower(): c for c in table.columns}
    length_col = next((lowered[c] for c in LENGTH_COLUMNS if c in lowered), None)
    id_cols = [lowered[c] for c in ID_COLUMNS if c in lowered] or [table.columns[0]]
    if length_col is None:
        raise ExpressionError(
            f"{path}: no length column (one of {', '.join(LENGTH_COLUMNS)}) in {list(table.columns)}"
        )
    lengths = pd.to_numeric(table[length_col], errors="coerce")
    # A blank length (GEO tables leave some) is a gene without one, dropped like a gene not listed;
    # text, zero or a negative length is a broken table.
    blank = table[length_col].isna().to_numpy()
    bad = (lengths.isna() | (lengths <= 0)).to_numpy() & ~blank
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ExpressionError(
            f"{path}: row {row + 2}: gene length must be a positive number, got "
            f"{table[length_col].iloc[row]!r}"
        )
    table, lengths = table[~blank], lengths[~blank]
    # Index under every id column given (e.g. with and without version), so either spelling matches.
    frames = [pd.Series(lengths.to_numpy(), index=table[c].astype(str)) for c in id_cols]
    merged = pd.concat(frames) if len(frames) > 1 else frames[0]
    return merged[~merged.index.duplicated(keep="first")].rename("length")


def gtf_exonic_lengths(path: str | Path) -> pd.Series:
    """gene_id -> total length of the union of its exons (overlapping exons counted once)."""
    path = Path(path)
    cols = ["seqname", "source", "feature", "start", "end", "score", "strand", "frame", "attributes"]
    gtf = pd.read_csv(
        path, sep="\t", comment="#", header=None, names=cols, compression="infer", dtype={"seqname": str}
    )
    exons = gtf[gtf["feature"] == "exon"]
    if exons.empty:
        raise ExpressionError(f"{path}: no 'exon' lines in the GTF")
    gene = exons["attributes"].str.extract(r'gene_id "([^"]+)"')[0]
    if gene.isna().any():
        raise ExpressionError(
            f"{path}: exon line without gene_id (line content: {exons['attributes'][gene.isna()].iloc[0]!r})"
        )
    frame = pd.DataFrame(
        {"gene": gene.to_numpy(), "start": exons["start"].to_numpy(), "end": exons["end"].to_numpy()}
    )
    frame = frame.sort_values(["gene", "start", "end"], kind="stable")
    # Merge overlapping intervals per gene: an exon starts a new block when it begins after the running end.
    running_end = frame.groupby("gene")["end"].cummax()
    previous_end = running_end.groupby(frame["gene"]).shift()
    new_block = previous_end.isna() | (frame["start"] > previous_end)
    block = new_block.cumsum()
    merged = frame.groupby(block).agg(gene=("gene", "first"), start=("start", "min"), end=("end", "max"))
    return (merged["end"] - merged["start"] + 1).groupby(merged["gene"]).sum().rename("length")


def lengths_for(
    genes: pd.Index, lengths: pd.Series, source: str, max_missing: float = 0.1
) -> tuple[pd.Series, list[str]]:
    """Lengths for ``genes`` (matched with or without Ensembl versions) and the genes without one.

    More than ``max_missing`` of genes without a length means the table does not belong to this
    expression table (other ids or annotation), so that is an error, not a silent loss.
    """
    found = lengths.reindex(genes)
    if found.isna().any():  # second chance: match Ensembl ids without their version suffix
        unversioned = lengths.copy()
        unversioned.index = strip_version(lengths.index)
        unversioned = unversioned[~unversioned.index.duplicated(keep="first")]
        lookup = unversioned.reindex(strip_version(genes[found.isna().to_numpy()]))
        found[found.isna().to_numpy()] = lookup.to_numpy()
    missing = list(found.index[found.isna()])
    if len(missing) > max_missing * len(genes):
        raise ExpressionError(
            f"{source}: gene lengths missing for {len(missing)} of {len(genes)} genes (e.g. {missing[:3]}); "
            "do the ids of the length table match the expression table?"
        )
    return found.dropna(), missing
