"""Reading GEO-style tables: formats, RPKM, gene lengths (table or GTF), and errors that name the problem."""

import gzip

import pandas as pd
import pytest

from morphopotency.rnaseq.expression import build_expression, rpkm
from morphopotency.rnaseq.ingest import ExpressionError, read_expression_table
from morphopotency.rnaseq.lengths import gtf_exonic_lengths, read_length_table
from tests.conftest import SHARED_DATA, needs_shared

COLUMNS = {"S1": "S1", "S8": "S8"}


def table(tmp_path, text, name="t.tsv"):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def test_rpkm_by_hand():
    counts = pd.DataFrame({"A": [100, 300], "B": [50, 50]}, index=["g1", "g2"])
    lengths = pd.Series({"g1": 2000, "g2": 500})
    out = rpkm(counts, lengths)
    # A: library 400 reads = 0.0004 M; g1 = 100 / 2 kb / 0.0004 M = 125000.
    assert out.at["g1", "A"] == pytest.approx(125000) and out.at["g2", "A"] == pytest.approx(1_500_000)
    assert out.at["g1", "B"] == pytest.approx(250000) and out.at["g2", "B"] == pytest.approx(1_000_000)


@pytest.mark.parametrize("name,sep", [("t.tsv", "\t"), ("t.tsv.gz", "\t"), ("t.csv", ","), ("t.csv.gz", ",")])
def test_formats_and_columns_mapped_to_samples(tmp_path, name, sep):
    text = (
        sep.join(["Geneid", "Symbol", "count_S1", "count_S8"])
        + "\n"
        + sep.join(["ENSG1", "FN1", "5", "7"])
        + "\n"
    )
    expr = read_expression_table(table(tmp_path, text, name), {"S1": "count_S1", "S8": "count_S8"})
    assert list(expr.values.columns) == ["S1", "S8"] and expr.values.at["ENSG1", "S8"] == 7
    assert expr.symbols["ENSG1"] == "FN1"


def test_xlsx(tmp_path):
    path = tmp_path / "t.xlsx"
    pd.DataFrame({"gene_id": ["g1", "g2"], "S1": [1, 2], "S8": [3, 0]}).to_excel(path, index=False)
    expr = read_expression_table(path, COLUMNS)
    assert expr.values.loc["g1"].tolist() == [1, 3] and expr.symbols["g1"] == "g1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gene_id\tS1\ng1\t3\n", r"sample column\(s\) missing from the table: S8 \(sample S8\)"),
        ("gene_id\tS1\tS8\ng1\t3\t4\ng1\t5\t6\n", r"duplicated gene id 'g1' \(rows 2, 3\)"),
        (
            "gene_id\tS1\tS8\ng1\t3\t4\ng2\tabc\t6\n",
            r"column 'S1' \(sample S1\), row 3 \(gene g2\): non-numeric value 'abc'",
        ),
        ("gene_id\tS1\tS8\ng1\t3\t-4\n", r"column 'S8' \(sample S8\), row 2 \(gene g1\): negative value -4"),
        (
            "gene_id\tS1\tS8\ng1\t3\t\ng2\t1\t1\n",
            r"column 'S8' \(sample S8\), row 2 \(gene g1\): missing value \(NaN\)",
        ),
        ("gene_id\tS1\tS8\ng1\t0\t4\ng2\t0\t1\n", r"column 'S1' \(sample S1\) is all zero"),
    ],
)
def test_bad_tables_are_named(tmp_path, text, message):
    path = table(tmp_path, text)
    with pytest.raises(ExpressionError, match=message) as err:
        read_expression_table(path, COLUMNS)
    assert str(path) in str(err.value)


def test_blocks_read_as_one_table_and_rows_counted_across_blocks(tmp_path, monkeypatch):
    """The table is parsed in blocks to hold one matrix: the blocks must join to exactly the whole
    table, columns nobody asked for must not be parsed, and a bad row in a later block must still be
    named by its line in the file."""
    from morphopotency.rnaseq import ingest

    rows = [f"ENSG{i:03d}\tG{i}\tnote {i}\t{i * 3}\t{i + 1}\n" for i in range(11)]
    text = "gene_id\tgene_symbol\tannotation\tS1\tS8\n" + "".join(rows)
    whole = read_expression_table(table(tmp_path, text, "t.tsv.gz"), COLUMNS)
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 4)
    blocks = read_expression_table(table(tmp_path, text, "t.tsv.gz"), COLUMNS)
    pd.testing.assert_frame_equal(blocks.values, whole.values)
    pd.testing.assert_series_equal(blocks.symbols, whole.symbols)
    assert (
        blocks.values.shape == (11, 2)
        and blocks.values.at["ENSG010", "S1"] == 30
        and blocks.symbols["ENSG010"] == "G10"
    )
    bad = text.replace("ENSG009\tG9\tnote 9\t27", "ENSG009\tG9\tnote 9\tx27")
    with pytest.raises(
        ExpressionError, match=r"column 'S1' \(sample S1\), row 11 \(gene ENSG009\): non-numeric value 'x27'"
    ):
        read_expression_table(table(tmp_path, bad), COLUMNS)
    twice = text.replace("ENSG009", "ENSG001")
    with pytest.raises(ExpressionError, match=r"duplicated gene id 'ENSG001' \(rows 3, 11\)"):
        read_expression_table(table(tmp_path, twice), COLUMNS)


def test_numeric_ids_are_read_as_text(tmp_path):
    """Entrez ids must stay '0101', not become the number 101, so they still match a lengths table."""
    expr = read_expression_table(table(tmp_path, "gene\tS1\tS8\n0101\t1\t2\n7\t3\t4\n"), COLUMNS)
    assert list(expr.values.index) == ["0101", "7"]


def test_truncated_gzip(tmp_path):
    data = gzip.compress(("gene_id\tS1\tS8\n" + "".join(f"g{i}\t{i}\t{i}\n" for i in range(5000))).encode())
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExpressionError, match="truncated or corrupt"):
        read_expression_table(path, COLUMNS)


def test_counts_that_are_not_integers_are_refused(tmp_path):
    path = table(tmp_path, "gene_id\tS1\tS8\ng1\t3.5\t4\n")
    lengths = table(tmp_path, "gene_id\tlength\ng1\t1000\n", "len.tsv")
    with pytest.raises(ExpressionError, match="set rnaseq.values: rpkm"):
        build_expression(path, COLUMNS, "counts", gene_lengths=lengths)


def test_rpkm_input_is_kept(tmp_path):
    path = table(tmp_path, "gene_id\tS1\tS8\ng1\t3.5\t4\n")
    expr = build_expression(path, COLUMNS, "rpkm")
    assert expr.counts is None and expr.rpkm.at["g1", "S1"] == 3.5


def test_lengths_missing_for_most_genes(tmp_path):
    path = table(tmp_path, "gene_id\tS1\tS8\n" + "".join(f"g{i}\t{i + 1}\t2\n" for i in range(20)))
    lengths = table(tmp_path, "gene_id\tlength\ng1\t1000\ng2\t500\n", "len.tsv")
    with pytest.raises(ExpressionError, match=r"gene lengths missing for 18 of 20 genes"):
        build_expression(path, COLUMNS, "counts", gene_lengths=lengths)


@needs_shared
def test_real_gencode_lengths_match_versioned_and_unversioned_ids(tmp_path):
    lengths = read_length_table(SHARED_DATA / "gene_lengths" / "gencode_v25_gene_exonic_length.tsv.gz")
    assert lengths["ENSG00000000003"] == 4535 and lengths["ENSG00000000003.14"] == 4535
    path = table(
        tmp_path,
        "gene_id\tgene_symbol\tS1\tS8\nENSG00000000003.99\tTSPAN6\t10\t20\nENSG00000000005\tTNMD\t5\t5\n",
    )
    expr = build_expression(
        path,
        COLUMNS,
        "counts",
        gene_lengths=SHARED_DATA / "gene_lengths" / "gencode_v25_gene_exonic_length.tsv.gz",
    )
    assert expr.dropped == [] and expr.rpkm.shape == (2, 2)
    # TSPAN6 in S1: 10 reads / 4.535 kb / (15 / 1e6) M
    assert expr.rpkm.at["ENSG00000000003.99", "S1"] == pytest.approx(10 / 4.535 / 15e-6)


def test_gtf_exonic_length_merges_overlapping_exons(tmp_path):
    attrs = 'gene_id "G1"; transcript_id "T{}";'
    rows = [
        ("chr1", "x", "gene", 100, 400, ".", "+", ".", 'gene_id "G1";'),
        ("chr1", "x", "exon", 100, 199, ".", "+", ".", attrs.format(1)),  # 100 bp
        ("chr1", "x", "exon", 150, 249, ".", "+", ".", attrs.format(2)),  # overlaps: union 100-249 = 150 bp
        ("chr1", "x", "exon", 300, 399, ".", "+", ".", attrs.format(1)),  # 100 bp
        ("chr1", "x", "exon", 320, 330, ".", "+", ".", attrs.format(2)),  # inside: adds nothing
        ("chr2", "x", "exon", 10, 19, ".", "-", ".", 'gene_id "G2"; transcript_id "T3";'),  # 10 bp
    ]
    path = tmp_path / "a.gtf"
    path.write_text("#!genome-build test\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    lengths = gtf_exonic_lengths(path)
    assert lengths.to_dict() == {"G1": 250, "G2": 10}
