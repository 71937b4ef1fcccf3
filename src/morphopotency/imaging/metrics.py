"""Segmentation scores: the Cell Tracking Challenge SEG measure and object-level F1."""

from __future__ import annotations

import numpy as np
from scipy import sparse


def _overlaps(
    truth: np.ndarray, pred: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Contingency of label pairs: (truth ids, pred ids, intersection counts, truth areas, pred areas)."""
    t = truth.ravel().astype(np.int64)
    p = pred.ravel().astype(np.int64)
    t_ids, t_inv = np.unique(t, return_inverse=True)
    p_ids, p_inv = np.unique(p, return_inverse=True)
    table = sparse.coo_matrix((np.ones_like(t_inv), (t_inv, p_inv)), shape=(len(t_ids), len(p_ids))).tocsr()
    return t_ids, p_ids, table, np.asarray(table.sum(axis=1)).ravel(), np.asarray(table.sum(axis=0)).ravel()


def seg_score(truth: np.ndarray, pred: np.ndarray) -> tuple[float, np.ndarray]:
    """CTC SEG: per ground-truth object, the Jaccard index with the predicted object covering more than
    half of it (0 if none); returns the mean and the per-object values. Label 0 is background."""
    t_ids, p_ids, table, t_area, p_area = _overlaps(truth, pred)
    scores = []
    for i, tid in enumerate(t_ids):
        if tid == 0:
            continue
        row = table.getrow(i)
        best = 0.0
        for j, inter in zip(row.indices, row.data):
            if p_ids[j] != 0 and inter * 2 > t_area[i]:
                best = inter / (t_area[i] + p_area[j] - inter)
        scores.append(best)
    values = np.array(scores)
    return (float(values.mean()) if len(values) else float("nan")), values


def match_f1(truth: np.ndarray, pred: np.ndarray, iou: float = 0.5) -> tuple[float, int, int, int]:
    """Object F1 at an IoU threshold >= 0.5 (matches are then unique): (F1, TP, FP, FN)."""
    t_ids, p_ids, table, t_area, p_area = _overlaps(truth, pred)
    coo = table.tocoo()
    union = t_area[coo.row] + p_area[coo.col] - coo.data
    ok = (t_ids[coo.row] != 0) & (p_ids[coo.col] != 0) & (coo.data / union > iou)
    tp = int(ok.sum())
    n_true = int((t_ids != 0).sum())
    n_pred = int((p_ids != 0).sum())
    fp, fn = n_pred - tp, n_true - tp
    f1 = 2 * tp / (2 * tp + fp + fn) if (tp + fp + fn) else 1.0
    return f1, tp, fp, fn


def splits_and_merges(truth: np.ndarray, pred: np.ndarray) -> tuple[int, int]:
    """(splits, merges). A predicted object belongs to the annotated cell that holds most of its pixels;
    a cell owning two or more predicted objects is split, and a predicted object holding most of the
    pixels of two or more cells is a merge. SEG sees neither; a donor fraction counts every object."""
    t_ids, p_ids, table, t_area, p_area = _overlaps(truth, pred)
    coo = table.tocoo()
    real = (t_ids[coo.row] != 0) & (p_ids[coo.col] != 0)
    rows, cols, inter = coo.row[real], coo.col[real], coo.data[real]
    owned = inter * 2 > p_area[cols]  # this cell holds most of the predicted object
    splits = int((np.bincount(rows[owned], minlength=len(t_ids)) >= 2).sum())
    covers = inter * 2 > t_area[rows]  # this predicted object holds most of the cell
    merges = int((np.bincount(cols[covers], minlength=len(p_ids)) >= 2).sum())
    return splits, merges
