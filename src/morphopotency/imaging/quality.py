"""Per-image quality signals a scoring run compares with the reference cohort's: focus and saturation.

Written here because scikit-image has the filters but no focus measure that survives the shot noise of
confocal images: the variance of the Laplacian, the usual one, is dominated by pixel noise, which blur
does not change. How much the steepest edges soften under more smoothing is not: a sharp image loses much
of its edge slope, an already blurred one little, and the measure needs no intensity scale.
"""

from __future__ import annotations

import numpy as np
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


def image_quality(plane: np.ndarray, max_value: float) -> dict[str, float]:
    """The shape channel's focus and saturated share."""
    return {"image_focus": focus(plane), "image_saturated": saturated(plane, max_value)}
