"""Figures of the imaging branch: segmentation overlays, SSEA3 histograms, shape modes (Fig. 2B)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import pdist
from skimage.segmentation import find_boundaries


def overlay(shape: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """RGB uint8: the shape channel (1st-99.8th percentile stretch) with cell outlines in yellow."""
    lo, hi = np.percentile(shape, [1, 99.8])
    grey = np.clip((shape - lo) / max(hi - lo, 1e-9), 0, 1)
    rgb = np.stack([grey] * 3, axis=-1)
    edges = find_boundaries(labels, mode="inner")
    rgb[edges] = (1.0, 0.85, 0.0)
    return (rgb * 255).astype(np.uint8)


def ssea3_histograms(cells: pd.DataFrame, threshold: float) -> plt.Figure:
    donors = sorted(cells["donor"].unique())
    fig, axes = plt.subplots(
        1, max(len(donors), 1), figsize=(3 * max(len(donors), 1), 2.8), sharex=True, squeeze=False
    )
    for ax, donor in zip(axes[0], donors):
        values = cells.loc[cells["donor"] == donor, "ssea3_8bit"]
        ax.hist(values, bins=np.linspace(0, 255, 35), color="seagreen")
        ax.axvline(threshold, color="tab:red", ls="--")
        ax.set_title(
            f"{donor}: {(values > threshold).mean():.0%} > {threshold:.0f} (n={len(values)})", fontsize=8
        )
        ax.set_xlabel("mean SSEA3 (8-bit)")
    return fig


def mode_distribution(distribution: pd.DataFrame) -> plt.Figure:
    """Stacked bars: fraction of each donor's cells per shape mode (paper Fig. 2B)."""
    fig, ax = plt.subplots(figsize=(1.5 + 0.8 * len(distribution), 4))
    bottom = np.zeros(len(distribution))
    cmap = plt.cm.tab20
    for i, mode in enumerate(distribution.columns):
        ax.bar(
            distribution.index, distribution[mode], bottom=bottom, color=cmap(i % 20), label=f"mode {mode}"
        )
        bottom += distribution[mode].to_numpy()
    ax.set_ylabel("fraction of cells")
    ax.legend(fontsize=6, ncol=2, bbox_to_anchor=(1.02, 1), loc="upper left")
    ax.set_title("Shape modes per donor")
    return fig


def mode_dendrogram(outlines: np.ndarray, summary: pd.DataFrame) -> plt.Figure:
    """Complete-linkage dendrogram of the modes' mean outlines, each outline drawn under its leaf."""
    k = len(outlines)
    fig = plt.figure(figsize=(max(6, 0.7 * k), 4.5))
    top = fig.add_axes([0.05, 0.45, 0.9, 0.5])
    if k > 1:
        hierarchy.dendrogram(
            hierarchy.linkage(pdist(outlines.reshape(k, -1)), method="complete"),
            ax=top,
            labels=[str(i + 1) for i in range(k)],
            no_labels=True,
            color_threshold=0,
        )
    top.set_axis_off()
    for i in range(k):
        ax = fig.add_axes([0.05 + 0.9 * i / k, 0.12, 0.9 / k, 0.3])
        ax.fill(outlines[i, :, 0], outlines[i, :, 1], color=plt.cm.tab20(i % 20))
        ax.set_aspect("equal")
        ax.set_axis_off()
        row = summary.iloc[i]
        ax.set_title(
            f"{int(row['mode'])}\nC {row['circularity']:.2f}\nAR {row['aspect_ratio']:.1f}", fontsize=6
        )
    return fig


def stability(ari: np.ndarray) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.hist(ari, bins=np.linspace(0, 1, 21), color="slateblue")
    ax.axvline(np.median(ari), color="black", ls="--", label=f"median ARI {np.median(ari):.2f}")
    ax.axvline(0.9, color="tab:red", ls=":", label="target 0.9")
    ax.set_xlabel("adjusted Rand index between fits on subsamples of the cells")
    ax.legend(fontsize=7)
    ax.set_title("Shape-mode stability")
    return fig
