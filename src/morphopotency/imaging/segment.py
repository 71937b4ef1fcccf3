"""Cell segmentation in scikit-image, doing what the paper's CellProfiler pipeline did.

Nuclei from DAPI (smoothing, Otsu threshold, declumping by a distance-transform watershed), then cell
bodies from the shape channel by watershed propagation from the nuclei. The shape-channel foreground is a
hysteresis threshold in units of the background noise: dim protrusions are kept when they connect to a
bright body, isolated noise is not. Before it, each row and column's median offset is removed: confocal
scans carry line offsets (the CTC MSC frames' top rows sit 30 % above the rest) that a smooth background
estimate cannot follow, and they came out as rows of spurious objects along the border.

Without a nuclei channel, cell bodies are seeded from the maxima of the smoothed signal that stand at
least ``seed_h`` noise units above any path to a higher one (h-maxima): a long spindle cell's several
peaks along its ridge merge into one seed instead of splitting the cell, and a foreground piece whose
smoothed peak stays below ``high`` (dim debris, detached fragments) gets no seed and is dropped. With
either seeding, objects smaller than ``min_area_share`` of the image's median object are dropped as
fragments. The background window is about three cell diameters: one near a single cell's size follows the
cell bodies and eats into them (bench/segmentation_seg.py sweeps each parameter and cross-validates the
choice on real annotated frames).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage import feature, filters, measure, morphology, segmentation


@dataclass(frozen=True)
class SegmentationParams:
    """Defaults for spread-out cells: the demo cohort, and the Cell Tracking Challenge MSC frames, where
    frame-level cross-validation keeps them (bench/segmentation_seg.py; crowded nuclei want others)."""

    smooth_sigma: float = 2.0  # px, before thresholding the shape channel
    low: float = 2.0  # hysteresis thresholds, in units of the smoothed background noise
    high: float = 8.0
    background_size: int = 251  # px, median-filter window for the background (~3 cell diameters)
    seed_sigma: float = 12.0  # px, smoothing for seed peaks (no nuclei channel)
    seed_h: float = 10.0  # noise units a seed must stand above the ridge to its neighbour (no nuclei)
    nuclei_sigma: float = 1.5
    nuclei_distance: int = 7  # px, minimum distance between nuclei centres when declumping
    min_area: int = 150  # px
    min_area_share: float = 0.2  # of the image's median object area: smaller objects are fragments
    max_area: int = 200_000  # px
    drop_border: bool = True


def _noise_units(plane: np.ndarray, p: SegmentationParams) -> np.ndarray:
    """Background-subtracted, smoothed and divided by its robust noise level (MAD of the result)."""
    step = max(1, p.background_size // 20)  # a coarse grid: the background is smooth at its window
    coarse = ndi.median_filter(plane[::step, ::step], size=max(3, p.background_size // step))
    background = ndi.zoom(
        coarse, (plane.shape[0] / coarse.shape[0], plane.shape[1] / coarse.shape[1]), order=1
    )
    background = background[: plane.shape[0], : plane.shape[1]]
    residual = plane - background
    residual -= np.median(residual, axis=1, keepdims=True)  # line offsets of the scan (module docstring)
    residual -= np.median(residual, axis=0, keepdims=True)
    smooth = filters.gaussian(residual, p.smooth_sigma, preserve_range=True)
    centre = np.median(smooth)
    mad = np.median(np.abs(smooth - centre)) * 1.4826
    return smooth / (mad if mad > 0 else 1.0)


def segment_nuclei(dapi: np.ndarray, p: SegmentationParams = SegmentationParams()) -> np.ndarray:
    """Nuclei labels: smoothed Otsu threshold, holes filled, touching nuclei split at distance-map necks."""
    smooth = filters.gaussian(dapi, p.nuclei_sigma, preserve_range=True)
    if np.ptp(smooth) == 0:
        return np.zeros(dapi.shape, dtype=np.int32)
    mask = ndi.binary_fill_holes(smooth > filters.threshold_otsu(smooth))
    mask = morphology.remove_small_objects(mask, max_size=max(p.min_area // 10, 1))
    distance = ndi.distance_transform_edt(mask)
    peaks = feature.peak_local_max(
        distance, min_distance=p.nuclei_distance, labels=measure.label(mask), exclude_border=False
    )
    markers = np.zeros(dapi.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-distance, markers, mask=mask).astype(np.int32)


def tidy_labels(labels: np.ndarray, p: SegmentationParams = SegmentationParams()) -> np.ndarray:
    """Fill holes per object, apply size limits (absolute, and relative to the image's median object) and
    drop objects cut by the image border; relabel 1..n."""
    filled = np.zeros_like(labels)
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas > 0]
    floor = max(p.min_area, p.min_area_share * float(np.median(areas))) if len(areas) else p.min_area
    for region in measure.regionprops(labels):
        r0, c0, r1, c1 = region.bbox
        if not floor <= region.area <= p.max_area:
            continue
        sub = ndi.binary_fill_holes(region.image)
        view = filled[r0:r1, c0:c1]
        view[sub & (view == 0)] = region.label
    if p.drop_border:
        filled = segmentation.clear_border(filled)
    relabelled, _, _ = segmentation.relabel_sequential(filled)
    return relabelled.astype(np.int32)


def _ridge_seeds(signal: np.ndarray, foreground: np.ndarray, p: SegmentationParams) -> np.ndarray:
    """Seed labels from the h-maxima of the signal smoothed to cell scale (module docstring), computed on
    a grid half as fine as that smoothing (it leaves nothing finer), which makes the morphological
    reconstruction behind h-maxima about nine times cheaper."""
    extra = max(p.seed_sigma / p.smooth_sigma, 1.0)  # signal is already smoothed by smooth_sigma
    step = max(1, int(extra // 2))
    seeds = filters.gaussian(np.where(foreground, signal, 0.0), extra, preserve_range=True)[::step, ::step]
    inside = foreground[::step, ::step]
    seeds = np.where(inside, seeds, 0.0)
    maxima = morphology.h_maxima(seeds, p.seed_h) & inside & (seeds >= p.high)
    coarse = measure.label(maxima)
    markers = np.zeros(signal.shape, dtype=np.int32)
    rows, cols = np.nonzero(coarse)
    markers[rows * step, cols * step] = coarse[rows, cols]
    return np.where(foreground, markers, 0)


def segment_cells(
    shape: np.ndarray, nuclei: np.ndarray | None = None, p: SegmentationParams = SegmentationParams()
) -> np.ndarray:
    """Cell-body labels from the shape channel, seeded by nuclei when given."""
    signal = _noise_units(shape.astype(np.float64), p)
    foreground = filters.apply_hysteresis_threshold(signal, p.low, p.high)
    foreground = ndi.binary_fill_holes(foreground)
    foreground = morphology.remove_small_objects(foreground, max_size=max(p.min_area - 1, 0))
    if nuclei is not None:
        nuclear = segment_nuclei(nuclei, p)
        markers = np.where(foreground, nuclear, 0)
    else:
        markers = _ridge_seeds(signal, foreground, p)
    labels = segmentation.watershed(-signal, markers, mask=foreground)
    return tidy_labels(labels, p)
