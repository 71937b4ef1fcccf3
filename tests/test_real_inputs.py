"""Inputs as public data gives them, which the demo never makes: a GEO count table with blank, duplicated
and versioned gene ids and symbols and genes without a length, a treatment no differentiation term
matches, and a job that fails (its error must reach the job's log)."""

import gzip

import numpy as np
import pandas as pd
import pytest

from morphopotency.io.gmt import read_gmt
from tests.conftest import GO_BP
from tests.workflow_helpers import snakemake, tiny_config, write_project

pytestmark = pytest.mark.workflow
DONORS = ("A", "B", "C")
SAMPLES = [f"{d}\t{d}\tstem\tuntreated_{d}\t" for d in DONORS] + [
    f"T{d}\t{d}\tdifferentiated\ttreated_{d}\t" for d in DONORS
]
# A treatment, not a lineage: it switches on translation, which no report.differentiation_terms matches.
PROGRAMME = "translation"
BLANK, DUPLICATED, NO_LENGTH, NOT_LISTED = 120, 12, 6, 6


def geo_tables(folder, genes: int = 2500, seed: int = 7):
    """A count table as GEO ships them (Ensembl ids with versions, a symbol column left blank for some
    ids and repeated for others, an annotation column) and a length table without versions, some
    lengths blank and some genes not listed."""
    rng = np.random.default_rng(seed)
    sets = read_gmt(GO_BP)
    named = sorted({g for members in sets.values() for g in members})
    symbols = list(rng.choice(named, genes, replace=False))
    programme = {g for t, members in sets.items() if PROGRAMME in t.lower() for g in members}
    symbols[-DUPLICATED:] = symbols[:DUPLICATED]  # the same symbol under two ids
    symbols += [""] * BLANK  # ids GEO gives no symbol for
    n = len(symbols)
    ids = [f"ENSG{10_000_000_000 + i:011d}.{i % 9 + 1}" for i in range(n)]
    lengths = rng.integers(800, 6000, n)
    base = rng.lognormal(3.0, 1.2, n) * lengths / 1000
    up = np.array([s in programme for s in symbols])
    table = pd.DataFrame({"gene_id": ids, "gene_name": symbols, "gene_biotype": "protein_coding"})
    for donor in DONORS:
        donor_level = base * rng.lognormal(0, 0.1, n)
        for condition, scale in (("untreated", 1.0), ("treated", np.where(up, 8.0, 1.0))):
            mean = donor_level * scale
            table[f"{condition}_{donor}"] = rng.negative_binomial(5, 5 / (5 + mean))
    length_table = pd.DataFrame({"gene_id": [i.split(".")[0] for i in ids], "length": lengths.astype(float)})
    length_table.loc[: NO_LENGTH - 1, "length"] = np.nan  # listed, length blank
    length_table = length_table.iloc[:-NOT_LISTED]  # not listed at all
    with gzip.open(folder / "GSE000000_counts.tsv.gz", "wt") as fh:
        table.to_csv(fh, sep="\t", index=False)
    length_table.to_csv(folder / "lengths.tsv", sep="\t", index=False)
    return table, int(up.sum())


def geo_config(folder) -> dict:
    config = tiny_config(demo={"enabled": False})
    config["rnaseq"] |= {
        "table": str(folder / "GSE000000_counts.tsv.gz"),
        "gene_lengths": str(folder / "lengths.tsv"),
    }
    return config


@pytest.fixture(scope="module")
def geo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("geo")
    table, planted = geo_tables(root)
    assert planted > 50
    result = snakemake(write_project(root, geo_config(root), SAMPLES))
    assert result.returncode == 0, result.stderr[-4000:]
    return root, table


def tsv(path, **kw):
    return pd.read_csv(path, sep="\t", **kw)


def test_genes_without_a_symbol_stay_in_every_table_by_their_id(geo_run):
    root, table = geo_run
    rpkm = tsv(root / "results/rnaseq/expression/rpkm.tsv", dtype={"symbol": str})
    dropped = set(tsv(root / "results/rnaseq/expression/genes_without_length.tsv")["gene_id"])
    assert len(dropped) == NO_LENGTH + NOT_LISTED and len(rpkm) == len(table) - len(dropped)
    assert rpkm["gene_id"].str.match(r"ENSG\d{11}\.\d$").all()  # the table's own ids, versions kept
    assert rpkm["symbol"].isna().sum() == BLANK - NOT_LISTED and not (rpkm["symbol"] == "nan").any()
    deseq2 = tsv(root / "results/rnaseq/differentiation/deseq2.tsv", dtype={"symbol": str})
    assert deseq2["symbol"].isna().sum() > 0 and set(deseq2["gene_id"]) <= set(rpkm["gene_id"])
    pc1 = tsv(root / "results/rnaseq/pca/pc1_genes.tsv", dtype={"symbol": str})
    assert pc1["symbol"].isna().any() and pc1["gene"].is_unique


def test_enrichment_takes_the_named_genes_and_finds_the_planted_programme(geo_run):
    root, _ = geo_run
    per_donor = tsv(root / "results/rnaseq/differentiation/donor_enrichment.tsv")
    assert set(per_donor["donor"]) == {f"T{d}" for d in DONORS}
    heatmap = tsv(root / "results/rnaseq/differentiation/function_heatmap.tsv")
    assert heatmap["term"].iloc[0].startswith(PROGRAMME)  # the first donor's most significant term
    assert (per_donor.groupby("donor")["n_up"].first() > 50).all()
    assert (tsv(root / "results/rnaseq/enrichment/go_bp.tsv")["fdr"] <= 1).all()


def test_a_cohort_without_a_differentiation_term_gets_its_report_with_the_score_empty(geo_run, config_schema):
    root, _ = geo_run
    heatmap = tsv(root / "results/rnaseq/differentiation/function_heatmap.tsv")
    pattern = config_schema["properties"]["report"]["properties"]["differentiation_terms"]["default"]
    assert not heatmap["term"].str.contains(pattern, case=False).any()  # the case this test is about
    summary = tsv(root / "results/report/donor_summary.tsv").set_index("donor")
    assert list(summary.index) == list(DONORS)
    assert summary["differentiation_score"].isna().all()
    assert summary["differentiation_score_note"].str.contains("report.differentiation_terms").all()
    assert summary["pc1_score"].notna().all() and summary["mean_correlation"].notna().all()
    page = (root / "results/report/donor_report.html").read_text()
    assert "Not computed for this cohort" in page and "no term of the function heat map matches" in page
    log = (root / "results/logs/report/donor_summary.log").read_text()
    assert "differentiation_score not computed" in log


def test_a_failing_job_writes_its_error_to_its_log(tmp_path):
    table, _ = geo_tables(tmp_path, genes=300)
    table.loc[41, "treated_B"] = "twelve"  # file line 43
    with gzip.open(tmp_path / "GSE000000_counts.tsv.gz", "wt") as fh:
        table.to_csv(fh, sep="\t", index=False)
    result = snakemake(write_project(tmp_path, geo_config(tmp_path), SAMPLES))
    assert result.returncode != 0
    log = (tmp_path / "results/logs/rnaseq/expression.log").read_text().splitlines()
    message = f"column 'treated_B' (sample TB), row 43 (gene {table.loc[41, 'gene_id']}): non-numeric value"
    assert "ExpressionError" in log[0] and message in log[0], log[:3]
    assert any("Traceback (most recent call last):" in line for line in log[1:])
