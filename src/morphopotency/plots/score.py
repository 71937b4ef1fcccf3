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
