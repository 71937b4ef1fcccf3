"""SEG (Cell Tracking Challenge measure) of our segmentation on real MSC frames, against a naive baseline.

Reads ../shared/data/ctc_msc_01 (18 frames of Fluo-C2DL-MSC with manual masks). One shared parameter set
for all frames (the defaults, keeping cells cut by the border since CTC annotates them). Prints SEG and
seconds per frame for ours and for a naive smoothed-Otsu segmentation measured in the same run.
Run: .venv/bin/python bench/segmentation_seg.py
"""

from __future__ import annotations

import glob
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import tifffile
from skimage import filters, measure

from morphopotency.imaging.metrics import seg_score
from morphopotency.imaging.segment import SegmentationParams, segment_cells

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctc_msc_01"


def naive(image: np.ndarray) -> np.ndarray:
    smooth = filters.gaussian(image, 2, preserve_range=True)
    return measure.label(smooth > filters.threshold_otsu(smooth))


def main() -> None:
    frames = sorted(glob.glob(str(DATA / "images" / "t*.tif")))
    params = replace(SegmentationParams(), drop_border=False)
    results = {}
    for name, method in (
        ("naive smoothed Otsu (baseline)", naive),
        ("morphopotency", lambda im: segment_cells(im, None, params)),
    ):
        values, seconds = [], 0.0
        for frame in frames:
            image = tifffile.imread(frame).astype(float)
            truth = tifffile.imread(frame.replace("images/t", "masks/man_seg"))
            t0 = time.perf_counter()
            labels = method(image)
            seconds += time.perf_counter() - t0
            values.append(seg_score(truth, labels)[1])
        per_object = np.concatenate(values)
        results[name] = (per_object.mean(), seconds / len(frames))
        print(
            f"{name:<32} SEG {per_object.mean():.3f} over {len(per_object)} annotated cells   "
            f"{seconds / len(frames):.2f} s/frame",
            flush=True,
        )
    (base_seg, base_t), (seg, t) = results.values()
    print(f"ours / baseline: SEG x{seg / base_seg:.2f}, time x{t / base_t:.1f}")


if __name__ == "__main__":
    main()
