"""Figures of the donor report: imaging vs transcriptome per donor, and (demo) recovered vs planted."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from morphopotency.report.agreement import LABELS


def agreement_scatter(summary: pd.DataFrame, agreement: pd.DataFrame) -> plt.Figure:
    """One panel per imaging × transcriptome pair: donors as labelled points, rho and exact p in the title."""
    n = max(len(agreement), 1)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 3.2 * rows), squeeze=False)
    for ax, (_, pair) in zip(axes.flat, agreement.iterrows()):
        x, y = pair["transcriptome_measure"], pair["imaging_measure"]
        part = summary[["donor", x, y]].dropna()
        ax.scatter(part[x], part[y], color="tab:purple", zorder=3)
        for _, row in part.iterrows():
            ax.annotate(row["donor"], (row[x], row[y]), textcoords="offset points", xytext=(4, 3), fontsize=8)
        if {"cnn_ci_low", "cnn_ci_high"} <= set(summary) and y == "cnn_multipotent_fraction":
            ci = summary.set_index("donor").loc[part["donor"], ["cnn_ci_low", "cnn_ci_high"]].to_numpy()
            ax.vlines(part[x], ci[:, 0], ci[:, 1], color="tab:purple", alpha=0.4)
        ax.set(xlabel=LABELS.get(x, x), ylabel=LABELS.get(y, y))
        ax.set_title(
            f"Spearman rho {pair['rho']:.2f}, p {pair['p_value']:.3f} (n={pair['donors']})", fontsize=9
        )
    for ax in list(axes.flat)[len(agreement) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def simulation_check(check: pd.DataFrame) -> plt.Figure:
    """Recovered per-donor fractions against the planted ones, with the identity line."""
    fig, ax = plt.subplots(figsize=(4.4, 4.2))
    measures = [c for c in ("ssea3_positive_fraction", "cnn_multipotent_fraction") if c in check]
    for colour, measure in zip(("black", "tab:purple"), measures):
        ax.scatter(
            check["planted_fraction"],
            check[measure],
            color=colour,
            label=LABELS.get(measure, measure),
            zorder=3,
        )
        if measure == "cnn_multipotent_fraction" and "cnn_ci_low" in check:
            ax.vlines(
                check["planted_fraction"], check["cnn_ci_low"], check["cnn_ci_high"], color=colour, alpha=0.4
            )
    for _, row in check.iterrows():
        ax.annotate(
            row["donor"],
            (row["planted_fraction"], row[measures[0]] if measures else 0),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize=8,
        )
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="planted multipotent fraction",
        ylabel="recovered fraction",
        title="simulation check",
    )
    ax.legend(fontsize=7, loc="upper left")
    return fig
