"""The paper's alternative cropper: boxes proposed by selective search (OpenCV ximgproc) on the shape
channel, kept by size and non-maximum suppression, cut out and resized. No masks: pixels around the
cell stay, as in the paper's donor crops. OpenCV is an optional dependency (extra ``crops``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from skimage import transform
from torchvision.ops import nms


def _cv2():
    try:
        import cv2

        cv2.ximgproc.segmentation.createSelectiveSearchSegmentation  # noqa: B018
    except (ImportError, AttributeError) as exc:
        raise ImportError(
            "imaging.cropper: selective_search needs OpenCV's contrib modules: "
            "pip install -c constraints.txt 'morphopotency[crops]' (opencv-contrib-python-headless)"
        ) from exc
    return cv2


def selective_search_boxes(
    shape: np.ndarray, min_area: int = 150, max_area: int = 200_000, iou: float = 0.3, max_boxes: int = 500
) -> pd.DataFrame:
    """Boxes (row0, col0, row1, col1, score) of likely cells: selective search 'fast' proposals whose box
    lies within the size limits, ranked by mean brightness and thinned by non-maximum suppression."""
    cv2 = _cv2()
    lo, hi = np.percentile(shape, [1, 99.8])
    grey = (np.clip((shape - lo) / max(hi - lo, 1e-9), 0, 1) * 255).astype(np.uint8)
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    search.switchToSelectiveSearchFast()
    rects = np.asarray(search.process(), dtype=np.int64).reshape(-1, 4)  # x, y, w, h
    area = rects[:, 2] * rects[:, 3]
    rects = rects[(area >= min_area) & (area <= max_area)]
    if not len(rects):
        return pd.DataFrame(columns=["row0", "col0", "row1", "col1", "score"])
    boxes = np.column_stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]])
    integral = np.pad(grey.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    x0, y0, x1, y1 = boxes.T
    score = (integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]) / (
        (x1 - x0) * (y1 - y0)
    )
    keep = nms(
        torch.as_tensor(boxes, dtype=torch.float32), torch.as_tensor(score, dtype=torch.float32), iou
    ).numpy()[:max_boxes]
    return pd.DataFrame(
        {"row0": y0[keep], "col0": x0[keep], "row1": y1[keep], "col1": x1[keep], "score": score[keep]}
    )


def crop_boxes(shape: np.ndarray, boxes: pd.DataFrame, size: int, max_value: float) -> np.ndarray:
    """(boxes, size, size) uint8 crops, each box padded to a square around its centre."""
    crops = np.zeros((len(boxes), size, size), dtype=np.uint8)
    for k, b in enumerate(boxes.itertuples()):
        patch = shape[b.row0 : b.row1, b.col0 : b.col1].astype(np.float32)
        side = max(patch.shape)
        canvas = np.zeros((side, side), dtype=np.float32)
        top, left = (side - patch.shape[0]) // 2, (side - patch.shape[1]) // 2
        canvas[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
        crops[k] = np.clip(
            np.rint(
                transform.resize(canvas, (size, size), order=1, preserve_range=True, anti_aliasing=True)
                * 255
                / max_value
            ),
            0,
            255,
        )
    return crops
