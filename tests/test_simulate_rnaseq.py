"""The demo RNA-seq table holds the planted structure the RNA-seq branch must recover."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from morphopotency.io.gmt import read_gmt, term_id
from morphopotency.rnaseq.expression import log2p1, rpkm
from morphopotency.samples import read_sample_sheet
from morphopotency.simulate import simulate_rnaseq, write_rnaseq
from tests.conftest import GO_BP

FRACTIONS = {"S1": 0.40, "S5": 0.45, "S7": 0.35, "S8": 0.72, "S9": 0.66}
STEM = ["S1", "S5", "S7", "S8", "S9"]


@pytest.fixture(scope="module")
def gene_sets():
    return read_gmt(GO_BP)


@pytest.fixture(scope="module")
def sheet(repo, samples_schema):
    return read_sample_sheet(repo / "config/samples.tsv", samples_schema)


@pytest.fixture(scope="module", params=[1, 2, 3])
def demo(request, sheet, gene_sets):
    return simulate_rnaseq(request.param, sheet, FRACTIONS, gene_sets, n_genes=3000)


@pytest.fixture(scope="module")
def expression(demo):
    counts = demo.counts.set_index("gene_id")
    symbols = counts.pop("gene_symbol")
    values = rpkm(counts, demo.lengths.set_index("gene_id")["length"])
    return values, symbols


def test_table_layout(demo, gene_sets):
    columns = list(demo.counts.columns)
    assert columns == ["gene_id", "gene_symbol", "S1", "S5", "S7", "S8", "S9", "D1", "D5", "D7", "D8", "D9"]
    values = demo.counts.iloc[:, 2:]
    assert (values.dtypes.map(lambda d: np.issubdtype(d, np.integer))).all() and (values >= 0).all().all()
    assert demo.counts["gene_id"].is_unique and demo.counts["gene_symbol"].is_unique
    real_symbols = {g for genes in gene_sets.values() for g in genes}
    assert set(demo.counts["gene_symbol"]) <= real_symbols


def test_stem_donors_correlate_above_096(expression):
    values, _ = expression
    corr = np.corrcoef(values[STEM].to_numpy().T)
    assert corr[np.triu_indices(5, 1)].min() > 0.96


def test_s8_s9_together_on_pc1_driven_by_fn1_and_adhesion(expression, demo, gene_sets):
    values, symbols = expression
    x = log2p1(values[STEM]).T
    x = x - x.mean()
    u, d, vt = np.linalg.svd(x.to_numpy(), full_matrices=False)
    pc1 = dict(zip(STEM, u[:, 0] * d[0]))
    for a, b in (("S8", "S9"), ("S9", "S8")):
        nearest = min((abs(pc1[a] - pc1[o]), o) for o in STEM if o != a)[1]
        assert nearest == b
    loadings = pd.Series(vt[0], index=values.index)
    top = symbols[loadings.abs().sort_values(ascending=False).index[:50]]
    assert top.iloc[0] == "FN1"
    adhesion = set(next(g for n, g in gene_sets.items() if term_id(n) == "GO:0031589"))
    assert len(set(top) & adhesion) >= 25


def test_differentiated_samples_differ_and_d8_d9_carry_differentiation(expression, demo):
    values, _ = expression
    logv = log2p1(values)
    corr_stem_diff = np.corrcoef(values[["S1", "D1"]].to_numpy().T)[0, 1]
    corr_stem_stem = np.corrcoef(values[["S1", "S5"]].to_numpy().T)[0, 1]
    assert corr_stem_diff < corr_stem_stem
    genes = demo.truth.loc[demo.truth["program"].str.startswith("differentiation:"), "gene_id"]
    lfc = {d: (logv.loc[genes, f"D{d}"] - logv.loc[genes, f"S{d}"]).mean() for d in (1, 5, 7, 8, 9)}
    assert min(lfc[8], lfc[9]) > max(lfc[1], lfc[5], lfc[7]) + 1.0
    assert demo.planted_terms["differentiation_samples"] == ["D8", "D9"]
    assert demo.planted_terms["pc1_high_donors"] == ["S8", "S9"]


def test_written_files_read_back_and_are_reproducible(tmp_path, sheet, gene_sets):
    for run in ("a", "b"):
        demo = simulate_rnaseq(4, sheet, FRACTIONS, gene_sets, n_genes=500)
        write_rnaseq(
            demo, tmp_path / run / "counts.tsv.gz", tmp_path / run / "lengths.tsv", tmp_path / run / "truth"
        )
    for name in ("counts.tsv.gz", "lengths.tsv", "truth/planted_genes.tsv", "truth/planted_terms.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    with gzip.open(tmp_path / "a" / "counts.tsv.gz", "rt") as fh:
        assert fh.readline().startswith("gene_id\tgene_symbol\tS1")
    table = pd.read_csv(tmp_path / "a" / "counts.tsv.gz", sep="\t")
    lengths = pd.read_csv(tmp_path / "a" / "lengths.tsv", sep="\t")
    assert len(table) == len(lengths) >= 500 and (lengths["length"] >= 300).all()
    terms = json.loads((tmp_path / "a" / "truth/planted_terms.json").read_text())
    assert "GO:1904237" in terms["pc1_terms"]
