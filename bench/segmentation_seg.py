"""Segmentation on real MSC frames: speed, SEG and whether the objects are cells, against a baseline.

Reads ../shared/data/ctc_msc_01 (18 frames of Fluo-C2DL-MSC with manual masks). One shared parameter set
for all frames (the defaults, keeping cells cut by the border since CTC annotates them). For ours and for
a plain smoothed-Otsu + distance-transform watershed baseline, measured in the same run on the same
frames, prints seconds per megapixel, SEG (the Cell Tracking Challenge measure), object precision, recall
and F1 at IoU 0.5, and the split and merge counts (morphopotency.imaging.metrics.splits_and_merges): SEG
sees neither splits nor fragments, but a donor fraction counts every object as a cell.
Run: .venv/bin/python bench/segmentation_seg.py
"""

from __future__ import annotations

import glob
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage import feature, filters, measure, segmentation

from morphopotency.imaging.metrics import match_f1, seg_score, splits_and_merges
from morphopotency.imaging.segment import SegmentationParams, segment_cells

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctc_msc_01"


def baseline(image: np.ndarray) -> np.ndarray:
    """Smoothed Otsu foreground split by a watershed on its distance transform (the textbook recipe)."""
    smooth = filters.gaussian(image, 2, preserve_range=True)
    mask = smooth > filters.threshold_otsu(smooth)
    distance = ndi.distance_transform_edt(mask)
    peaks = feature.peak_local_max(
        distance, min_distance=20, labels=measure.label(mask), exclude_border=False
    )
    markers = np.zeros(image.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-distance, markers, mask=mask)


def main() -> None:
    frames = sorted(glob.glob(str(DATA / "images" / "t*.tif")))
    if not frames:
        raise SystemExit(f"no frames under {DATA}: the benchmark needs ../shared/data/ctc_msc_01")
    params = replace(SegmentationParams(), drop_border=False)
    results = {}
    for name, method in (
        ("smoothed Otsu + watershed (baseline)", baseline),
        ("morphopotency", lambda im: segment_cells(im, None, params)),
    ):
        seg, seconds, megapixels = [], 0.0, 0.0
        tp = fp = fn = splits = merges = 0
        for frame in frames:
            image = tifffile.imread(frame).astype(float)
            truth = tifffile.imread(frame.replace("images/t", "masks/man_seg"))
            t0 = time.perf_counter()
            labels = method(image)
            seconds += time.perf_counter() - t0
            megapixels += image.size / 1e6
            seg.append(seg_score(truth, labels)[1])
            _, t, p, n = match_f1(truth, labels)
            s, m = splits_and_merges(truth, labels)
            tp, fp, fn, splits, merges = tp + t, fp + p, fn + n, splits + s, merges + m
        per_object = np.concatenate(seg)
        f1 = 2 * tp / max(2 * tp + fp + fn, 1)
        results[name] = (per_object.mean(), seconds / megapixels, f1)
        print(
            f"{name:<38} {seconds / megapixels:6.2f} s/MP  SEG {per_object.mean():.3f} "
            f"({len(per_object)} cells)  objects: {tp + fp} predicted, precision {tp / max(tp + fp, 1):.2f}, "
            f"recall {tp / max(tp + fn, 1):.2f}, F1 {f1:.3f}; {splits} cells split, {merges} merges",
            flush=True,
        )
    (base_seg, base_t, base_f1), (seg_ours, t, f1) = results.values()
    print(
        f"ours / baseline: time x{t / base_t:.2f}, SEG x{seg_ours / base_seg:.2f}, "
        f"object F1 x{f1 / base_f1:.2f}"
    )


if __name__ == "__main__":
    main()
