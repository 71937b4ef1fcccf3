"""Figures of the CNN stage: ROC curves (Table 1), learning-rate search (Fig. 4B-C), confusion matrix and
example cells (Fig. 4D-E), per-donor multipotent fraction (Fig. 4F). Each is drawn from a saved table."""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

OUTCOMES = ("true positive", "false positive", "false negative", "true negative")


def roc_curves(predictions: pd.DataFrame) -> plt.Figure:
    """One curve per model and fold (thin) from held-out predictions: columns model, fold, label, prob."""
    models = list(dict.fromkeys(predictions["model"]))
    fig, ax = plt.subplots(figsize=(4.5, 4.2))
    colours = plt.cm.tab10(np.arange(len(models)) % 10)
    for colour, model in zip(colours, models):
        part = predictions[predictions["model"] == model]
        for _fold, rows in part.groupby("fold"):
            if rows["label"].nunique() == 2:
                fpr, tpr, _ = roc_curve(rows["label"], rows["prob"])
                ax.plot(fpr, tpr, color=colour, lw=0.8, alpha=0.5)
        fpr, tpr, _ = roc_curve(part["label"], part["prob"])
        ax.plot(fpr, tpr, color=colour, lw=2, label=f"{model} (pooled folds)")
    ax.plot([0, 1], [0, 1], color="grey", ls=":")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="held-out ROC per fold")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def lr_surrogate(curve: pd.DataFrame, trials: pd.DataFrame) -> plt.Figure:
    """GP mean (dotted), ±2 s.d. band and expected improvement over log10(learning rate), trials as dots."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5, 5), sharex=True, height_ratios=[2, 1])
    x = curve["log10_learning_rate"]
    top.plot(x, curve["mean"], ls=":", color="k", label="GP mean of validation loss")
    top.fill_between(
        x,
        curve["mean"] - 2 * curve["sd"],
        curve["mean"] + 2 * curve["sd"],
        color="tab:green",
        alpha=0.3,
        label="±2 s.d.",
    )
    top.scatter(
        np.log10(trials["learning_rate"]), trials["val_loss"], s=14, color="tab:red", zorder=3, label="trials"
    )
    top.set_ylabel("validation loss")
    top.legend(fontsize=7)
    bottom.fill_between(x, 0, curve["expected_improvement"], color="tab:blue", alpha=0.5)
    bottom.set(xlabel="log10 learning rate", ylabel="expected improvement")
    return fig


def roc_auc_per_iteration(trials: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    for repeat, part in trials.groupby("repeat"):
        ax.plot(part["iteration"], part["val_roc_auc"], marker="o", ms=3, lw=1, label=f"repeat {repeat}")
    mean = trials.groupby("iteration")["val_roc_auc"].mean()
    ax.plot(mean.index, mean.to_numpy(), color="k", lw=2, label="mean")
    ax.set(xlabel="Bayesian-optimisation iteration", ylabel="validation ROC-AUC")
    ax.legend(fontsize=6, ncol=2)
    return fig


def confusion(matrix: pd.DataFrame) -> plt.Figure:
    """``matrix``: rows = truth, columns = predicted (labels as index/columns)."""
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    values = matrix.to_numpy()
    ax.imshow(values, cmap="Blues")
    for (i, j), v in np.ndenumerate(values):
        ax.text(
            j,
            i,
            f"{v}\n{v / max(values.sum(), 1):.1%}",
            ha="center",
            va="center",
            color="white" if v > values.max() / 2 else "black",
            fontsize=9,
        )
    ax.set_xticks(range(values.shape[1]), matrix.columns)
    ax.set_yticks(range(values.shape[0]), matrix.index)
    ax.set(xlabel="predicted", ylabel="ground truth (SSEA3)")
    return fig


def example_grid(crops: np.ndarray, outcomes: pd.DataFrame, per_row: int = 6) -> plt.Figure:
    """Rows = TP, FP, FN, TN; up to ``per_row`` cells each (``outcomes``: row index into crops,
    outcome, prob).
    """
    fig, axes = plt.subplots(
        len(OUTCOMES), per_row, figsize=(1.3 * per_row, 1.45 * len(OUTCOMES)), squeeze=False
    )
    for r, outcome in enumerate(OUTCOMES):
        chosen = outcomes[outcomes["outcome"] == outcome].head(per_row)
        for c in range(per_row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(chosen):
                row = chosen.iloc[c]
                ax.imshow(crops[int(row["cell"])], cmap="gray")
                ax.set_title(f"p={row['prob']:.2f}", fontsize=6)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(outcome, fontsize=7)
    return fig


def donor_bars(donors: pd.DataFrame) -> plt.Figure:
    if "reason" in donors:  # cells from no donors to compare: say why instead of drawing bars
        fig, ax = plt.subplots(figsize=(5, 1.6))
        ax.axis("off")
        ax.text(
            0,
            0.5,
            "No per-donor fractions:\n" + textwrap.fill(str(donors["reason"].iloc[0]), 70),
            va="center",
        )
        return fig
    fig, ax = plt.subplots(figsize=(1.5 + 0.8 * len(donors), 3.5))
    x = np.arange(len(donors))
    y = donors["predicted_multipotent_fraction"].to_numpy()
    err = np.vstack([y - donors["ci_low"], donors["ci_high"] - y])
    width = 0.4 if "cv_predicted_fraction" in donors else 0.8
    ax.bar(
        x - (width / 2 if width < 0.8 else 0),
        y,
        width=width,
        yerr=err,
        capsize=3,
        color="tab:purple",
        alpha=0.8,
        label="final model, all cells (95 % CI)",
    )
    if "cv_predicted_fraction" in donors:
        cv = donors["cv_predicted_fraction"].to_numpy()
        cv_err = np.vstack([cv - donors["cv_ci_low"], donors["cv_ci_high"] - cv])
        ax.bar(
            x + width / 2,
            cv,
            width=width,
            yerr=cv_err,
            capsize=3,
            color="tab:orange",
            alpha=0.8,
            label="cross-validated, held-out cells (95 % CI)",
        )
    ax.scatter(
        x, donors["ssea3_positive_fraction"], color="k", marker="D", s=18, zorder=3, label="SSEA3-positive"
    )
    ax.set_xticks(x, donors["donor"])
    ax.set(ylim=(0, 1), ylabel="multipotent fraction")
    ax.legend(fontsize=7)
    return fig


def lodo_figure(fractions: pd.DataFrame, sweep: pd.DataFrame | None = None) -> plt.Figure:
    """Each estimator's leave-one-donor-out fraction (95 % interval) against the donor's SSEA3 fraction,
    and (given the sweep) its mean estimate when the held-out donors' cells are redrawn at artificial
    prevalences: a line flatter than the diagonal is the pull towards the training prevalence."""
    methods = list(dict.fromkeys(fractions["estimator"]))
    cols = min(4, len(methods))
    rows = -(-len(methods) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows), sharey=True, squeeze=False)
    axes = grid.ravel()
    for ax in axes[len(methods) :]:
        ax.set_visible(False)
    for ax, method in zip(axes, methods):
        part = fractions[fractions["estimator"] == method]
        truth, est = part["ssea3_positive_fraction"].to_numpy(), part["fraction"].to_numpy()
        err = np.vstack([est - part["ci_low"], part["ci_high"] - est]).clip(min=0)
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
        title = f"{method} (MAE {np.nanmean(np.abs(est - truth)):.3f}"
        if sweep is not None:
            line = sweep[sweep["estimator"] == method]
            ax.plot(
                line["prevalence"],
                line["prevalence"] + line["mean_signed_error"],
                color="tab:orange",
                lw=1.2,
                label="redrawn at 0.05-0.95",
            )
            title += f"; {line['mean_abs_error'].mean():.3f} swept"
        ax.errorbar(truth, est, yerr=err, fmt="o", color="tab:purple", capsize=3, ms=4)
        for x, y, name in zip(truth, est, part["donor"]):
            ax.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="SSEA3-positive fraction", title=title + ")")
        ax.title.set_fontsize(8)
    if sweep is not None:
        axes[0].legend(fontsize=6, loc="upper left")
    for row in grid:
        row[0].set_ylabel("estimate, donor left out")
    fig.tight_layout()
    return fig
