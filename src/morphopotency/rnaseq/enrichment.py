"""Over-representation of gene lists in GO terms (gseapy's offline hypergeometric test + BH) and the
ClueGO-style term network (terms linked where the kappa of their gene memberships is >= 0.4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import gseapy
import networkx as nx
import numpy as np
import pandas as pd

from morphopotency.io.gmt import term_id
from morphopotency.rnaseq.symbols import named_genes

COLUMNS = [
    "term_id",
    "term",
    "overlap",
    "term_size",
    "query_size",
    "background_size",
    "p_value",
    "fdr",
    "odds_ratio",
    "genes",
]


def filter_gene_sets(
    gene_sets: Mapping[str, Sequence[str]], background: Iterable[str], min_size: int, max_size: int
) -> dict[str, list[str]]:
    """Terms restricted to the background, keeping those with min_size..max_size members there."""
    bg = named_genes(background)
    out = {}
    for name, genes in gene_sets.items():
        inside = sorted(set(genes) & bg)
        if min_size <= len(inside) <= max_size:
            out[name] = inside
    return out


def enrich(
    genes: Iterable[str], gene_sets: Mapping[str, Sequence[str]], background: Iterable[str]
) -> pd.DataFrame:
    """Hypergeometric over-representation with Benjamini-Hochberg FDR, via ``gseapy.enrich``.

    As gseapy does: query and terms are intersected with the background, and only terms hit at least
    once are tested (and corrected). Rows sorted by p-value, then term. Genes without a symbol (blank or
    NaN in real tables) and repeated symbols count once or not at all: no gene set can name them.
    """
    background = sorted(named_genes(background))
    query = sorted(named_genes(genes) & set(background))
    if not query or not gene_sets:
        return pd.DataFrame(columns=COLUMNS)
    result = gseapy.enrich(
        gene_list=query,
        gene_sets=dict(gene_sets),
        background=background,
        outdir=None,
        cutoff=1.0,
        no_plot=True,
    )
    table = getattr(result, "results", None)
    if table is None or len(table) == 0:
        return pd.DataFrame(columns=COLUMNS)
    overlap = table["Overlap"].str.split("/", expand=True).astype(int)
    out = pd.DataFrame(
        {
            "term_id": table["Term"].map(term_id),
            "term": table["Term"],
            "overlap": overlap[0],
            "term_size": overlap[1],
            "query_size": len(query),
            "background_size": len(background),
            "p_value": table["P-value"].astype(float),
            "fdr": table["Adjusted P-value"].astype(float),
            "odds_ratio": table["Odds Ratio"].astype(float),
            # gseapy lists the overlap in set order, which changes with each process's hash seed: sorted,
            # the same inputs give the same bytes on every run (and on every cluster node).
            "genes": table["Genes"].map(lambda genes: ",".join(sorted(genes.split(";")))),
        }
    )
    return out.sort_values(["p_value", "term"], kind="stable").reset_index(drop=True)


def kappa_matrix(memberships: Mapping[str, set[str]]) -> pd.DataFrame:
    """Cohen's kappa between every pair of terms, over the union of their genes (as ClueGO does)."""
    terms = list(memberships)
    universe = sorted(set().union(*memberships.values())) if memberships else []
    index = {g: i for i, g in enumerate(universe)}
    m = np.zeros((len(terms), len(universe)), dtype=float)
    for t, genes in enumerate(memberships.values()):
        m[t, [index[g] for g in genes]] = 1.0
    n = len(universe)
    both = m @ m.T
    neither = (1 - m) @ (1 - m).T
    observed = (both + neither) / n
    p1 = m.sum(axis=1) / n
    expected = np.outer(p1, p1) + np.outer(1 - p1, 1 - p1)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(expected < 1, (observed - expected) / (1 - expected), 1.0)
    return pd.DataFrame(kappa, index=terms, columns=terms)


def term_network(
    enriched: pd.DataFrame, kappa_threshold: float = 0.4, fdr: float = 0.05, max_terms: int = 60
) -> tuple[nx.Graph, pd.DataFrame]:
    """Significant terms linked at kappa >= threshold, grouped into connected components.

    Each group is labelled by its most significant term. Returns the graph and a table of terms with
    their group id and label.
    """
    sig = enriched[enriched["fdr"] <= fdr].head(max_terms)
    memberships = {row.term_id: set(row.genes.split(",")) for row in sig.itertuples()}
    graph = nx.Graph()
    for row in sig.itertuples():
        graph.add_node(row.term_id, term=row.term, fdr=row.fdr, overlap=row.overlap)
    if len(memberships) > 1:
        kappa = kappa_matrix(memberships)
        ids = list(kappa.index)
        for i in range(len(ids)):
            for j in range(i + 1, len(ids)):
                if kappa.iat[i, j] >= kappa_threshold:
                    graph.add_edge(ids[i], ids[j], kappa=float(kappa.iat[i, j]))
    rows = []
    components = sorted(nx.connected_components(graph), key=lambda c: min(graph.nodes[t]["fdr"] for t in c))
    for group, component in enumerate(components, start=1):
        lead = min(component, key=lambda t: (graph.nodes[t]["fdr"], t))
        for t in sorted(component, key=lambda t: graph.nodes[t]["fdr"]):
            rows.append(
                {
                    "term_id": t,
                    "term": graph.nodes[t]["term"],
                    "fdr": graph.nodes[t]["fdr"],
                    "group": group,
                    "group_label": graph.nodes[lead]["term"],
                }
            )
    return graph, pd.DataFrame(rows, columns=["term_id", "term", "fdr", "group", "group_label"])


def donor_function_enrichment(
    lfc: pd.DataFrame,
    symbols: pd.Series,
    gene_sets: Mapping[str, Sequence[str]],
    background: Iterable[str],
    threshold: float,
) -> pd.DataFrame:
    """Per donor: enrichment of genes up-regulated (log2 FC >= threshold) on differentiation."""
    tables = []
    for donor in lfc.columns:
        up = symbols.reindex(lfc.index[lfc[donor] >= threshold]).dropna()
        table = enrich(up, gene_sets, background)
        table.insert(0, "donor", donor)
        table.insert(1, "n_up", len(up))
        tables.append(table)
    return (
        pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["donor", "n_up", *COLUMNS])
    )


def representative_terms(per_donor: pd.DataFrame, n_terms: int, fdr: float) -> pd.DataFrame:
    """Terms x donors of -log10 FDR for a few terms: each donor's most significant, taken in turn.

    Round-robin over donors keeps a term that only one donor carries (D8's 'tissue development' in the
    paper) on the map even when another donor has many stronger ones.
    """
    significant = per_donor[per_donor["fdr"] <= fdr].sort_values(["donor", "p_value", "term"], kind="stable")
    queues = {d: list(dict.fromkeys(g["term"])) for d, g in significant.groupby("donor")}
    chosen: list[str] = []
    while len(chosen) < n_terms and any(queues.values()):
        for donor in sorted(queues):
            while queues[donor] and queues[donor][0] in chosen:
                queues[donor].pop(0)
            if queues[donor] and len(chosen) < n_terms:
                chosen.append(queues[donor].pop(0))
    donors = list(dict.fromkeys(per_donor["donor"]))
    matrix = per_donor[per_donor["term"].isin(chosen)].pivot_table(
        index="term", columns="donor", values="fdr", aggfunc="min"
    )
    matrix = matrix.reindex(index=chosen, columns=donors).fillna(1.0)
    return -np.log10(matrix.clip(lower=1e-300))
