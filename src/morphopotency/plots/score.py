"""Figure of the scoring run: each new donor's fraction with its interval, among the reference donors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def donor_scores_figure(scores: pd.DataFrame, reference: pd.DataFrame, accept: float) -> plt.Figure:
    """New donors (estimate and 95 % interval, flagged ones hollow) right of the reference donors (their
    SSEA3-positive fraction); the acceptance threshold as a line."""
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * (len(scores) + len(reference)), 3.6))
    ref = reference.sort_values("donor")
    x_ref = np.arange(len(ref))
    ax.scatter(
        x_ref, ref["ssea3_positive_fraction"], color="0.45", marker="D", label="reference: SSEA3+ fraction"
    )
    x_new = len(ref) + 0.5 + np.arange(len(scores))
    flagged = scores["flags"].fillna("").astype(bool).to_numpy()
    err = np.vstack([scores["fraction"] - scores["ci_low"], scores["ci_high"] - scores["fraction"]])
    ax.errorbar(
        x_new, scores["fraction"], yerr=np.nan_to_num(err), fmt="none", ecolor="tab:purple", capsize=3
    )
    ax.scatter(
        x_new[~flagged], scores["fraction"][~flagged], color="tab:purple", zorder=3, label="scored donor"
    )
    ax.scatter(
        x_new[flagged],
        scores["fraction"][flagged],
        facecolor="white",
        edgecolor="tab:purple",
        zorder=3,
        label="scored donor, flagged",
    )
    ax.axhline(accept, color="tab:green", linestyle="--", linewidth=1, label=f"acceptance {accept:g}")
    ax.set_xticks(np.r_[x_ref, x_new], [*ref["donor"], *scores["donor"]], rotation=45)
    ax.set(ylim=(0, 1), ylabel="multipotent fraction")
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    return fig


def shape_modes_figure(modes: pd.DataFrame, reference: pd.DataFrame | None = None) -> plt.Figure:
    """Each lot's share of cells per shape mode (``modes``: donor, mode_1 ... mode_K) against the
    reference donors' (``reference``, same columns): their range as a grey band and their mean in black,
    so a lot whose shapes left the reference's stands out mode by mode."""
    columns = [c for c in modes.columns if c.startswith("mode_")]
    x = np.arange(1, len(columns) + 1)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.32 * len(columns) + 2.5), 3.2))
    if reference is not None and len(reference):
        values = reference.reindex(columns=columns).to_numpy(float)
        ax.fill_between(
            x, values.min(axis=0), values.max(axis=0), color="0.85", label="reference donors (range)"
        )
        ax.plot(x, values.mean(axis=0), color="black", linewidth=1.5, label="reference donors (mean)")
    colours = plt.get_cmap("tab10")
    for i, row in enumerate(modes.itertuples(index=False)):
        shares = [getattr(row, c) for c in columns]
        ax.plot(x, shares, marker="o", markersize=3, linewidth=1, color=colours(i % 10), label=str(row.donor))
    ax.set_xticks(x, [str(k) for k in x], fontsize=7)
    ax.set(xlabel="shape mode", ylabel="share of cells", ylim=(0, None))
    ax.legend(fontsize=6, ncol=2, frameon=False, loc="upper right")
    return fig
