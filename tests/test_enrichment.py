"""Enrichment p-values equal scipy's hypergeometric test + BH on the real GO gene sets; kappa network."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, hypergeom
from sklearn.metrics import cohen_kappa_score

from morphopotency.io.gmt import read_gmt, term_id
from morphopotency.rnaseq.enrichment import (
    donor_function_enrichment,
    enrich,
    filter_gene_sets,
    kappa_matrix,
    representative_terms,
    term_network,
)
from tests.conftest import SHARED_DATA, needs_shared


@pytest.fixture(scope="module")
def go_cc():
    return read_gmt(SHARED_DATA / "go" / "GO_CC_orgHs.eg.db_3.16.0.gmt.gz")


@needs_shared
def test_pvalues_equal_scipy_hypergeom_and_bh(go_cc):
    rng = np.random.default_rng(0)
    universe = sorted({g for genes in go_cc.values() for g in genes})
    background = set(rng.choice(universe, size=6000, replace=False))
    focal = next(genes for name, genes in go_cc.items() if term_id(name) == "GO:0005925")  # focal adhesion
    query = set(rng.choice(sorted(set(focal) & background), size=40, replace=False))
    query |= set(rng.choice(sorted(background), size=160, replace=False))
    query.add("NOT_A_GENE")  # outside the background: ignored, as gseapy does
    sets = filter_gene_sets(go_cc, background, 2, 2000)
    table = enrich(query, sets, background)

    q = query & background
    rows = []
    for name, members in sets.items():
        x = len(q & set(members))
        if x:
            rows.append((term_id(name), x, hypergeom.sf(x - 1, len(background), len(members), len(q))))
    expected = pd.DataFrame(rows, columns=["term_id", "overlap", "p"]).set_index("term_id")
    expected["fdr"] = false_discovery_control(expected["p"].to_numpy(), method="bh")
    got = table.set_index("term_id")
    assert set(got.index) == set(expected.index)
    assert np.allclose(got.loc[expected.index, "p_value"], expected["p"], rtol=1e-9, atol=1e-300)
    assert np.allclose(got.loc[expected.index, "fdr"], expected["fdr"], rtol=1e-9, atol=1e-300)
    assert (got.loc[expected.index, "overlap"] == expected["overlap"]).all()
    assert table.iloc[0]["term_id"] in {"GO:0005925", "GO:0030055", "GO:0005924", "GO:0070161"}
    assert (table["query_size"] == len(q)).all() and (table["background_size"] == len(background)).all()


def test_filter_gene_sets_restricts_to_background_and_size():
    sets = {"t1": ["A", "B", "C"], "t2": ["A", "Z"], "t3": ["A", "B", "C", "D", "E"]}
    assert filter_gene_sets(sets, ["A", "B", "C", "D"], 2, 3) == {"t1": ["A", "B", "C"]}


def test_kappa_equals_cohen_kappa_over_the_union():
    members = {"t1": {"A", "B", "C"}, "t2": {"B", "C", "D"}, "t3": {"E", "F"}}
    universe = sorted(set().union(*members.values()))
    k = kappa_matrix(members)
    for a in members:
        for b in members:
            va = [g in members[a] for g in universe]
            vb = [g in members[b] for g in universe]
            assert k.at[a, b] == pytest.approx(cohen_kappa_score(va, vb))


def test_term_network_groups_and_labels():
    enriched = pd.DataFrame(
        {
            "term_id": ["T1", "T2", "T3", "T4"],
            "term": ["adhesion", "substrate adhesion", "ribosome", "not significant"],
            "overlap": [5, 4, 3, 2],
            "fdr": [1e-6, 1e-4, 1e-3, 0.2],
            "genes": ["A,B,C,D,E", "A,B,C,D", "X,Y,Z", "A,B"],
        }
    )
    graph, groups = term_network(enriched, kappa_threshold=0.4, fdr=0.05)
    assert set(graph.nodes) == {"T1", "T2", "T3"}
    assert graph.has_edge("T1", "T2") and not graph.has_edge("T1", "T3")
    label = dict(zip(groups["term_id"], groups["group_label"]))
    assert label == {"T1": "adhesion", "T2": "adhesion", "T3": "ribosome"}


def test_representative_terms_take_each_donors_best_in_turn():
    per_donor = pd.DataFrame(
        {
            "donor": ["D8", "D8", "D8", "D9", "D9", "D1"],
            "term": ["a", "b", "c", "a", "d", "e"],
            "p_value": [1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 0.5],
            "fdr": [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 0.6],
        }
    )
    matrix = representative_terms(per_donor, 3, 0.05)
    assert list(matrix.index) == ["a", "d", "b"]  # D8's best, D9's best not yet taken, D8's next
    assert list(matrix.columns) == ["D8", "D9", "D1"]
    assert matrix.at["a", "D9"] == pytest.approx(5) and matrix.at["d", "D8"] == 0


def test_donor_function_enrichment_uses_up_genes_only():
    lfc = pd.DataFrame({"D1": [2.0, 2.0, -3.0, 0.0]}, index=["g1", "g2", "g3", "g4"])
    symbols = pd.Series(["A", "B", "C", "D"], index=lfc.index)
    out = donor_function_enrichment(
        lfc, symbols, {"t (GO:1)": ["A", "B"], "u (GO:2)": ["C", "D"]}, ["A", "B", "C", "D"], 1.0
    )
    assert list(out["term_id"]) == ["GO:1"] and out["n_up"].iloc[0] == 2


def test_overlap_genes_do_not_depend_on_the_hash_seed():
    # Each Snakemake job is a fresh Python process with its own string-hash seed; gseapy's overlap lists
    # follow set order, so unsorted they differed between a local and a Slurm run of the same inputs.
    import subprocess
    import sys

    code = (
        "from morphopotency.rnaseq.enrichment import enrich;"
        "sets={f'T{i} (GO:{i:07d})': [f'G{j}' for j in range(i, i + 40)] for i in range(0, 60, 3)};"
        "print(enrich([f'G{j}' for j in range(10, 50)], sets, [f'G{j}' for j in "
        "range(120)]).to_csv(sep='\\t'))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": str(seed), "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in (1, 2, 3)
    }
    assert len(outputs) == 1
    genes = next(iter(outputs)).splitlines()[1].split("\t")[-1].split(",")
    assert genes == sorted(genes) and len(genes) > 5
