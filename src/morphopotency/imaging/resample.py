"""Bringing an image to a common pixel size before anything is measured.

Segmentation sizes, outlines, crops and the CNN's input are all in pixels: a lot imaged through another
objective or camera would otherwise show the model cells of another apparent size, and be scored as if its
cells were larger or smaller. scikit-image does the resampling (anti-aliased when shrinking).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from skimage.transform import rescale, resize

from morphopotency.imaging.io import Image, ImageError

# Pixel sizes within 1 % of the target are left as they are: metadata rounding, not another objective, and
# an image already at the target stays byte-for-byte the one the reference was trained on.
TOLERANCE = 0.01


def zoom_factor(pixel_um: float, target_um: float) -> float | None:
    """Output pixels per input pixel along each axis, or None when the image is already at the target."""
    factor = pixel_um / target_um
    return None if abs(np.log(factor)) <= np.log1p(TOLERANCE) else float(factor)


def to_pixel_size(image: Image, target_um: float | None, fallback_um: float | None = None) -> Image:
    """``image`` resampled so one pixel is ``target_um`` (None: as it is); ``fallback_um``, the configured
    pixel size of files whose metadata has none (imaging.pixel_size_um)."""
    if target_um is None:
        return image
    pixel = image.pixel_size_um or fallback_um
    if not pixel:
        raise ImageError(
            f"{image.path}: no pixel size in the file's metadata and imaging.pixel_size_um is not set, so it "
            f"cannot be resampled to {target_um:g} um (imaging.resample_um)"
        )
    factor = zoom_factor(pixel, target_um)
    if factor is None:
        return replace(image, pixel_size_um=pixel)

    def plane(values: np.ndarray | None) -> np.ndarray | None:
        if values is None:
            return None
        out = rescale(values, factor, order=1, anti_aliasing=factor < 1, preserve_range=True, mode="reflect")
        return out.astype(np.float32)

    shape = plane(image.shape)
    if min(shape.shape) < 8:
        raise ImageError(
            f"{image.path}: {image.shape.shape[1]} x {image.shape.shape[0]} pixels of {pixel:g} um are too "
            f"few to resample to {target_um:g} um"
        )
    return replace(
        image,
        shape=shape,
        label=plane(image.label),
        nuclei=plane(image.nuclei),
        pixel_size_um=target_um,
    )


def labels_to_shape(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A label image drawn on the image before it was resampled, brought to the resampled size: nearest
    neighbour, so labels stay labels (a cell that shrinks below one pixel is lost)."""
    if labels.shape == tuple(shape):
        return labels
    out = resize(labels, shape, order=0, preserve_range=True, anti_aliasing=False, mode="edge")
    return out.astype(labels.dtype)
