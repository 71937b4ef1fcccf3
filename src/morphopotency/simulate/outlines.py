"""Cell-body outlines for the demo cohort: round, spindle (uniaxially elongated) and branched.

Outlines are drawn by hand because no library generates plausible stromal-cell shapes; each is a closed
polygon of (row, col) offsets around the cell centre, before rotation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ShapeClass = Literal["round", "elongated", "irregular"]
SHAPE_CLASSES: tuple[ShapeClass, ...] = ("round", "elongated", "irregular")
_N_POINTS = 240


def _wobble(rng: np.random.Generator, theta: np.ndarray, amplitude: float, harmonics: int = 6) -> np.ndarray:
    """Smooth random radial modulation: a short random Fourier series."""
    k = np.arange(2, 2 + harmonics)
    coef = rng.normal(0, amplitude, size=harmonics) / k
    phase = rng.uniform(0, 2 * np.pi, size=harmonics)
    return (coef[:, None] * np.cos(k[:, None] * theta[None, :] + phase[:, None])).sum(axis=0)


def outline(shape: ShapeClass, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Closed polygon (N x 2, row/col offsets in pixels) of one cell body; ``scale`` ~ radius of a
    round cell.
    """
    theta = np.linspace(0, 2 * np.pi, _N_POINTS, endpoint=False)
    if shape == "round":
        aspect = rng.uniform(1.0, 1.35)
        r = scale * (1 + _wobble(rng, theta, 0.18))
        x, y = r * np.cos(theta) * np.sqrt(aspect), r * np.sin(theta) / np.sqrt(aspect)
    elif shape == "elongated":
        half_length = scale * rng.uniform(2.0, 3.2)
        half_width = scale * rng.uniform(0.38, 0.55)
        # Spindle: the width tapers faster than an ellipse towards both poles; a slight bend adds realism.
        x = half_length * np.cos(theta)
        y = half_width * np.sin(theta) * (0.35 + 0.65 * np.abs(np.sin(theta)))
        x = x * (1 + _wobble(rng, theta, 0.06))
        y = y + rng.uniform(-0.12, 0.12) * (x**2) / half_length
    elif shape == "irregular":
        n_arms = int(rng.integers(3, 6))
        centres = np.sort(rng.uniform(0, 2 * np.pi, n_arms))
        lengths = rng.uniform(0.7, 1.6, n_arms)
        widths = rng.uniform(0.12, 0.25, n_arms)
        d = np.angle(np.exp(1j * (theta[None, :] - centres[:, None])))
        arms = (lengths[:, None] * np.exp(-0.5 * (d / widths[:, None]) ** 2)).sum(axis=0)
        r = scale * 0.8 * (1 + arms + _wobble(rng, theta, 0.2))
        x, y = r * np.cos(theta), r * np.sin(theta)
    else:
        raise ValueError(f"unknown shape class {shape!r}; expected one of {SHAPE_CLASSES}")
    angle = rng.uniform(0, np.pi)
    c, s = np.cos(angle), np.sin(angle)
    rows = s * x + c * y
    cols = c * x - s * y
    return np.column_stack([rows, cols])
