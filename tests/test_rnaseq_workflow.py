"""The RNA-seq branch end to end on the five-donor demo: the planted truth is recovered."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from morphopotency.io.gmt import read_gmt, term_id
from morphopotency.io.tables import read_expression
from morphopotency.rnaseq.expression import log2p1
from morphopotency.rnaseq.pca import pcatools_pca
from tests.conftest import GO_BP
from tests.workflow_helpers import shipped_samples, snakemake, tiny_config, write_project

pytestmark = pytest.mark.workflow
STEM = ["S1", "S5", "S7", "S8", "S9"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    config = tiny_config()
    config["demo"].update(
        n_genes=4000,
        multipotent_fraction={"S1": 0.40, "S5": 0.45, "S7": 0.35, "S8": 0.72, "S9": 0.66},
        seed=20230411,
    )
    header, samples = shipped_samples(reference_only=True)
    root = write_project(tmp_path_factory.mktemp("rnaseq"), config, samples, header)
    result = snakemake(root)
    assert result.returncode == 0, result.stderr[-4000:]
    return root / "results" / "rnaseq", root


def tsv(path, **kw):
    return pd.read_csv(path, sep="\t", **kw)


def test_stem_donors_correlate_above_096(demo):
    out, _ = demo
    corr = tsv(out / "correlation" / "pearson_rpkm.tsv", index_col=0)
    assert list(corr.index) == STEM
    assert corr.to_numpy()[np.triu_indices(5, 1)].min() > 0.96
    assert (out / "correlation" / "pearson_log2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_s8_s9_nearest_on_pc1_and_fn1_leads(demo):
    out, _ = demo
    scores = tsv(out / "pca" / "scores.tsv", index_col=0)["PC1"]
    for a, b in (("S8", "S9"), ("S9", "S8")):
        assert (scores.drop(a) - scores[a]).abs().idxmin() == b
    genes = tsv(out / "pca" / "pc1_genes.tsv")
    assert genes.loc[genes["rank"] == 1, "symbol"].item() == "FN1"
    variance = tsv(out / "pca" / "variance.tsv")
    assert (
        list(variance["PC"]) == [f"PC{i}" for i in range(1, 6)]
        and variance["variance_percent"].iloc[-1] < 1e-10
    )
    assert variance["variance_percent"].iloc[0] > 40
    parallel = tsv(out / "pca" / "parallel_analysis.tsv")
    assert parallel["retained_by_horn"].iloc[0]


def test_pca_tables_trace_back_to_rpkm(demo):
    out, _ = demo
    rpkm, _ = read_expression(out / "expression" / "rpkm.tsv")
    again = pcatools_pca(log2p1(rpkm[STEM]), remove_var=0.1)
    variance = tsv(out / "pca" / "variance.tsv")
    assert np.allclose(variance["variance_percent"], again.variance_percent, rtol=1e-8, atol=1e-12)


def test_planted_adhesion_program_is_enriched(demo):
    out, _ = demo
    bp = tsv(out / "enrichment" / "go_bp.tsv")
    assert bp.loc[bp["term_id"] == "GO:0031589", "fdr"].item() < 1e-10
    network = tsv(out / "enrichment" / "go_bp_network.tsv")
    assert "adhesion" in network.loc[network["group"] == 1, "group_label"].iloc[0]
    assert (tsv(out / "enrichment" / "go_cc.tsv")["fdr"] <= 1).all()


def test_d8_d9_carry_the_planted_differentiation_terms(demo):
    out, root = demo
    planted = json.loads((root / "results" / "demo" / "truth" / "planted_terms.json").read_text())
    enrichment = tsv(out / "differentiation" / "donor_enrichment.tsv")
    for term in planted["differentiation_terms"]:
        hits = enrichment[enrichment["term_id"] == term].set_index("donor")["fdr"]
        for donor in ("D8", "D9"):
            assert hits.get(donor, 1.0) < 1e-3, (term, donor)
        for donor in ("D1", "D5", "D7"):
            assert hits.get(donor, 1.0) > 0.05, (term, donor)
    heat = tsv(out / "differentiation" / "function_heatmap.tsv", index_col=0)
    assert list(heat.columns) == ["D1", "D5", "D7", "D8", "D9"]
    assert (heat[["D8", "D9"]].max(axis=1) > -np.log10(0.05)).all()


def test_deseq2_finds_the_shared_and_planted_changes(demo):
    out, root = demo
    table = tsv(out / "differentiation" / "deseq2.tsv", index_col=0)
    assert {"baseMean", "log2FoldChange", "lfcSE", "pvalue", "padj", "symbol"} <= set(table.columns)
    planted = tsv(root / "results" / "demo" / "truth" / "planted_genes.tsv")
    diff = planted.loc[planted["program"].str.startswith("differentiation"), "gene_id"]
    assert table.loc[table.index.isin(diff), "log2FoldChange"].median() > 0.5
    assert (table["padj"] < 0.05).sum() > 50


def test_dotplot_lists_markers_and_the_figures_exist(demo):
    out, _ = demo
    dots = tsv(out / "stemness" / "dotplot.tsv")
    assert {"FN1"}.isdisjoint(dots["gene"]) and dots["present"].all()
    assert set(dots["category"]) >= {
        "stem-cell maintenance",
        "adipogenic",
        "osteogenic",
        "chondrogenic",
        "keratocyte",
    }
    for png in [
        "pca/scree.png",
        "pca/biplot.png",
        "pca/loadings_plot.png",
        "enrichment/go_bp.png",
        "enrichment/go_bp_network.png",
        "differentiation/pca.png",
        "differentiation/function_heatmap.png",
        "stemness/dotplot.png",
    ]:
        assert (out / png).stat().st_size > 10_000, png


def test_geo_download_and_enrichr_library_through_the_workflow(demo, server, tmp_path):  # noqa: F811
    """No local table: the rule fetches it from 'GEO' (a local server), and an Enrichr library likewise."""
    _, demo_root = demo
    www, base = server
    suppl = www / "GSE210nnn" / "GSE210678" / "suppl"
    suppl.mkdir(parents=True)
    shutil.copy(
        demo_root / "results" / "demo" / "rnaseq" / "demo_counts.tsv.gz", suppl / "GSE210678_counts.tsv.gz"
    )
    sets = read_gmt(GO_BP)
    chosen = [n for n in sets if term_id(n) in {"GO:0031589", "GO:0001503", "GO:0006412"}]
    (www / "enrichr").mkdir()
    (www / "enrichr" / "TestLib").write_text(
        "".join(f"{n}\t\t" + "\t".join(f"{g},1.0" for g in sets[n]) + "\n" for n in chosen)
    )
    config = tiny_config(demo={"enabled": False})
    config["rnaseq"] = {
        "geo": {"accession": "GSE210678", "file": "GSE210678_counts.tsv.gz", "base_url": base},
        "values": "counts",
        "gene_lengths": str(demo_root / "results" / "demo" / "rnaseq" / "gene_lengths.tsv"),
        "enrichment": {"enrichr_library": "TestLib", "enrichr_url": f"{base}/enrichr/"},
    }
    samples = [f"S{d}\tS{d}\tstem\tS{d}\t" for d in (1, 5, 7, 8, 9)]
    root = write_project(tmp_path / "project", config, samples)
    target = "results/rnaseq/enrichment/go_enrichr.tsv"
    result = snakemake(root, target)
    assert result.returncode == 0, result.stderr[-4000:]
    cached = root / "resources" / "geo" / "GSE210678" / "GSE210678_counts.tsv.gz"
    assert cached.read_bytes() == (suppl / "GSE210678_counts.tsv.gz").read_bytes()
    assert (root / "resources" / "geo" / "GSE210678" / "GSE210678_counts.tsv.gz.sha256").exists()
    enrichr = tsv(root / target)
    assert enrichr.loc[enrichr["term_id"] == "GO:0031589", "fdr"].item() < 0.05
    # Cached: a second run fetches nothing, even with the server gone.
    (suppl / "GSE210678_counts.tsv.gz").unlink()
    again = snakemake(root, target, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
