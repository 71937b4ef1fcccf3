"""Per-image quality signals a scoring run compares with the reference cohort's: focus and saturation.

Written here because scikit-image has the filters but no focus measure that survives the shot noise of
confocal images: the variance of the Laplacian, the usual one, is dominated by pixel noise, which blur
does not change. How much the steepest edges soften under more smoothing is not: a sharp image loses much
of its edge slope, an already blurred one little, and the measure needs no intensity scale.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from skimage import filters

FINE_PX, COARSE_PX = 1.0, 3.0  # smoothing that removes pixel noise; and a focus loss of a few pixels
EDGE_QUANTILE = 99.0  # the steepest 1 % of pixels: cell edges, whatever the field's density


def _edge_slope(image: np.ndarray, sigma: float) -> float:
    return float(
        np.percentile(filters.sobel(filters.gaussian(image, sigma=sigma, preserve_range=True)), EDGE_QUANTILE)
    )


def focus(plane: np.ndarray) -> float:
    """Edge slope after fine smoothing over that after coarse smoothing, minus 1: near 0 for an image
    already blurred over a few pixels, larger the sharper it is; unchanged by gain or offset."""
    image = np.asarray(plane, dtype=float)
    coarse = _edge_slope(image, COARSE_PX)
    return _edge_slope(image, FINE_PX) / coarse - 1.0 if coarse > 0 else 0.0


def saturated(plane: np.ndarray, max_value: float) -> float:
    """Share of pixels at the detector's ceiling: their intensities, and the outlines they blur, clip."""
    return float(np.mean(np.asarray(plane) >= max_value))


def unevenness(plane: np.ndarray, cells: np.ndarray) -> float:
    """Illumination unevenness: the spread (95th - 5th percentile) of the background, smoothed over an
    eighth of the field, over its median. Cells are left out by normalised convolution (the smoothed
    background divided by the smoothed share of background pixels)."""
    background = ~np.asarray(cells, dtype=bool)
    if background.mean() < 0.05:
        return float("nan")
    sigma = max(plane.shape) / 8
    image = np.where(background, np.asarray(plane, dtype=float), 0.0)
    weight = filters.gaussian(background.astype(float), sigma=sigma)
    field = filters.gaussian(image, sigma=sigma, preserve_range=True) / np.maximum(weight, 1e-6)
    field = field[weight > 0.2]
    low, mid, high = np.percentile(field, [5, 50, 95])
    return float((high - low) / mid) if mid > 0 else float("nan")


def image_quality(plane: np.ndarray, max_value: float, cells: np.ndarray | None = None) -> dict[str, float]:
    """The shape channel's focus, saturated share and (given the cells' mask) illumination unevenness,
    and the field's size in pixels (for the cell density)."""
    out = {"image_focus": focus(plane), "image_saturated": saturated(plane, max_value)}
    if cells is not None:
        out["image_unevenness"] = unevenness(plane, cells)
    out["image_pixels"] = float(np.asarray(plane).size)
    return out


def image_qc_table(cells: pd.DataFrame, qc: Mapping[str, float]) -> pd.DataFrame:
    """One row per image of the per-cell table (the image's values repeat on its cells): cells, focus and
    its ratio to the cohort's median image, saturated share, illumination unevenness, cell density
    (per mm² when the pixel size is known, else per megapixel) and flags (``qc``: config imaging.qc)."""
    # pixel_size_um: the pixel size measured at (after imaging.resample_um); imaged_pixel_size_um: the file's.
    columns = [
        "image_focus",
        "image_saturated",
        "image_unevenness",
        "image_pixels",
        "pixel_size_um",
        "imaged_pixel_size_um",
    ]
    present = [c for c in columns if c in cells]
    per = cells.groupby(["donor", "image"], sort=True).agg(
        cells=("cell_id", "size"), **{c: (c, "first") for c in present}
    )
    table = per.reset_index()
    if "image_focus" in table:
        table["focus_ratio"] = table["image_focus"] / table["image_focus"].median()
    if "image_pixels" in table:
        pixel = table["pixel_size_um"] if "pixel_size_um" in table else np.nan
        area_mm2 = table["image_pixels"] * pixel**2 / 1e6
        table["density"] = np.where(
            np.isfinite(area_mm2), table["cells"] / area_mm2, table["cells"] / (table["image_pixels"] / 1e6)
        )
        table["density_unit"] = np.where(np.isfinite(area_mm2), "cells/mm2", "cells/Mpx")
    flags = []
    median_density = table["density"].median() if "density" in table else np.nan
    for r in table.itertuples():
        why = []
        if getattr(r, "focus_ratio", 1.0) < qc["min_focus_ratio"]:
            why.append(f"out of focus ({r.focus_ratio:.2f} x the cohort's median sharpness)")
        if getattr(r, "image_saturated", 0.0) > qc["max_saturated"]:
            why.append(f"saturated ({r.image_saturated:.1%} of pixels)")
        if getattr(r, "image_unevenness", 0.0) > qc["max_unevenness"]:
            why.append(f"uneven illumination ({r.image_unevenness:.2f})")
        density = getattr(r, "density", np.nan)
        if np.isfinite(density) and median_density > 0:
            ratio = density / median_density
            if not 1 / qc["density_ratio"] <= ratio <= qc["density_ratio"]:
                why.append(f"cell density {ratio:.2f} x the cohort's median")
        flags.append("; ".join(why))
    return table.assign(flags=flags)
