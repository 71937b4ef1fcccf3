"""Figures of the RNA-seq branch (paper Fig. 2A, 3B-G, 5B-D)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd

from morphopotency.rnaseq.symbols import display_names


def correlation_heatmap(corr: pd.DataFrame, title: str) -> plt.Figure:
    n = len(corr)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n))
    values = corr.to_numpy()
    off = values[~np.eye(n, dtype=bool)] if n > 1 else values.ravel()
    im = ax.imshow(values, cmap="viridis", vmin=min(off.min(), 0.999), vmax=1.0)
    ax.set_xticks(range(n), corr.columns, rotation=45, ha="right")
    ax.set_yticks(range(n), corr.index)
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                f"{values[i, j]:.3f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if values[i, j] < off.mean() else "black",
            )
    fig.colorbar(im, ax=ax, label="Pearson r")
    ax.set_title(title)
    return fig


def marker_dotplot(table: pd.DataFrame) -> plt.Figure:
    """table: gene, category, sample, log2_rpkm, zscore. Size = level, colour = z-score across samples."""
    genes = list(dict.fromkeys(table["gene"]))
    samples = list(dict.fromkeys(table["sample"]))
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * len(samples), 1.0 + 0.28 * len(genes)))
    x = table["sample"].map({s: i for i, s in enumerate(samples)})
    y = table["gene"].map({g: i for i, g in enumerate(genes)})
    level = table["log2_rpkm"].to_numpy()
    size = 15 + 250 * level / max(level.max(), 1e-9)
    sc = ax.scatter(
        x, y, s=size, c=table["zscore"], cmap="RdBu_r", vmin=-2, vmax=2, edgecolors="grey", linewidths=0.4
    )
    ax.set_xticks(range(len(samples)), samples)
    labels = [f"{g} ({c})" for g, c in dict(zip(table["gene"], table["category"])).items()]
    ax.set_yticks(range(len(genes)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(-0.6, len(samples) - 0.4)
    fig.colorbar(sc, ax=ax, label="z-score of log2(RPKM+1) across samples", shrink=0.5)
    for lvl in (2, 6, 10):
        ax.scatter(
            [],
            [],
            s=15 + 250 * lvl / max(level.max(), 1e-9),
            c="lightgrey",
            edgecolors="grey",
            label=f"log2(RPKM+1) = {lvl}",
        )
    ax.legend(loc="upper left", bbox_to_anchor=(1.25, 1.0), fontsize=7, frameon=False)
    ax.set_title("Stemness and lineage markers")
    return fig


def scree(variance: pd.Series, elbow: int, horn: int) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    pcs = np.arange(1, len(variance) + 1)
    ax.bar(pcs, variance.to_numpy(), color="steelblue", label="variance explained")
    ax.plot(pcs, np.cumsum(variance.to_numpy()), "o-", color="black", label="cumulative")
    ax.axvline(elbow, color="tab:red", ls="--", label=f"elbow (PC{elbow})")
    ax.axvline(horn + 0.05, color="tab:green", ls=":", label=f"Horn's parallel analysis: {horn} PC(s)")
    ax.set_xticks(pcs, variance.index)
    ax.set_ylim(0, 100)
    ax.set_ylabel("variance explained (%)")
    ax.legend(fontsize=7, loc="center right")
    ax.set_title("Scree plot")
    return fig


def biplot(
    scores: pd.DataFrame,
    loadings: pd.DataFrame,
    variance: pd.Series,
    symbols: pd.Series,
    groups: pd.Series | None = None,
    n_arrows: int = 5,
) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    colours = dict(zip(sorted(set(groups)) if groups is not None else [], plt.cm.tab10.colors))
    for sample, row in scores.iterrows():
        colour = colours.get(groups[sample], "black") if groups is not None else "black"
        ax.scatter(row["PC1"], row["PC2"], s=60, color=colour)
        ax.annotate(sample, (row["PC1"], row["PC2"]), xytext=(4, 4), textcoords="offset points")
    top = loadings["PC1"].abs().add(loadings["PC2"].abs()).sort_values(ascending=False).index[:n_arrows]
    reach = np.abs(scores[["PC1", "PC2"]].to_numpy()).max() * 0.8
    scale = reach / max(np.abs(loadings.loc[top, ["PC1", "PC2"]].to_numpy()).max(), 1e-12)
    names = display_names(symbols.reindex(top))
    for gene in top:
        dx, dy = loadings.at[gene, "PC1"] * scale, loadings.at[gene, "PC2"] * scale
        ax.arrow(0, 0, dx, dy, color="grey", alpha=0.6, width=reach * 0.004, length_includes_head=True)
        ax.annotate(names[gene], (dx, dy), fontsize=7, color="dimgrey")
    ax.axhline(0, color="lightgrey", lw=0.8)
    ax.axvline(0, color="lightgrey", lw=0.8)
    ax.set_xlabel(f"PC1 ({variance['PC1']:.1f} %)")
    ax.set_ylabel(f"PC2 ({variance['PC2']:.1f} %)")
    if groups is not None:
        for g, c in colours.items():
            ax.scatter([], [], color=c, label=g)
        ax.legend(fontsize=7)
    ax.set_title("PCA bi-plot")
    return fig


def loadings_plot(table: pd.DataFrame) -> plt.Figure:
    """table: gene, symbol, PC, loading (retained genes on each PC shown), PCAtools plotloadings style."""
    pcs = list(dict.fromkeys(table["PC"]))
    fig, ax = plt.subplots(figsize=(1.5 + 1.4 * len(pcs), 5))
    for i, pc in enumerate(pcs):
        sub = table[table["PC"] == pc]
        ax.scatter(
            np.full(len(sub), i),
            sub["loading"],
            c=sub["loading"],
            cmap="RdBu_r",
            vmin=-table["loading"].abs().max(),
            vmax=table["loading"].abs().max(),
            s=25,
            edgecolors="grey",
            linewidths=0.3,
        )
        extremes = pd.concat([sub.nlargest(4, "loading"), sub.nsmallest(4, "loading")])
        names = display_names(extremes.set_index("gene")["symbol"])
        for name, row in zip(names, extremes.itertuples()):
            ax.annotate(name, (i, row.loading), xytext=(5, 0), textcoords="offset points", fontsize=6)
    ax.axhline(0, color="lightgrey")
    ax.set_xticks(range(len(pcs)), pcs)
    ax.set_ylabel("component loading")
    ax.set_title("Loadings of retained genes (top/bottom 5 % of each PC's range)")
    return fig


def enrichment_bars(enriched: pd.DataFrame, title: str, top: int = 15) -> plt.Figure:
    sub = enriched.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.32 * max(len(sub), 1)))
    score = -np.log10(sub["fdr"].clip(lower=1e-300))
    bars = ax.barh(
        range(len(sub)),
        score,
        color=plt.cm.viridis(np.clip(sub["overlap"] / max(sub["overlap"].max(), 1), 0, 1)),
    )
    for bar, n in zip(bars, sub["overlap"]):
        ax.annotate(
            f"{n} genes",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    ax.set_yticks(range(len(sub)), [t if len(t) < 70 else t[:67] + "..." for t in sub["term"]], fontsize=7)
    ax.axvline(-np.log10(0.05), color="tab:red", ls="--", lw=0.8, label="FDR 0.05")
    ax.set_xlabel("-log10 FDR (colour: gene count)")
    ax.legend(fontsize=7)
    ax.set_title(title)
    return fig


def term_network_plot(graph: nx.Graph, groups: pd.DataFrame, title: str, seed: int = 0) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 6))
    if graph.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "no term passed the FDR cut-off", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    pos = nx.spring_layout(graph, seed=seed, k=1.2 / np.sqrt(graph.number_of_nodes()))
    group_of = dict(zip(groups["term_id"], groups["group"]))
    colours = [plt.cm.tab20((group_of[n] - 1) % 20) for n in graph.nodes]
    largest = max(graph.nodes[n]["overlap"] for n in graph.nodes)
    sizes = [40 + 400 * graph.nodes[n]["overlap"] / largest for n in graph.nodes]
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.4)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=colours, node_size=sizes, edgecolors="grey")
    for _group, sub in groups.groupby("group"):
        lead = sub.iloc[0]
        x, y = pos[lead["term_id"]]
        label = lead["group_label"]
        ax.annotate(
            label if len(label) < 50 else label[:47] + "...",
            (x, y),
            fontsize=7,
            ha="center",
            va="bottom",
            xytext=(0, 6),
            textcoords="offset points",
        )
    ax.set_title(title)
    ax.set_axis_off()
    return fig


def term_heatmap(matrix: pd.DataFrame, title: str) -> plt.Figure:
    """matrix: terms x donors of -log10 FDR."""
    fig, ax = plt.subplots(figsize=(2.5 + 0.8 * matrix.shape[1], 1.0 + 0.3 * max(matrix.shape[0], 1)))
    im = ax.imshow(matrix.to_numpy(), aspect="auto", cmap="magma_r", vmin=0)
    ax.set_xticks(range(matrix.shape[1]), matrix.columns)
    ax.set_yticks(
        range(matrix.shape[0]), [t if len(t) < 60 else t[:57] + "..." for t in matrix.index], fontsize=7
    )
    fig.colorbar(im, ax=ax, label="-log10 FDR")
    ax.set_title(title)
    return fig
