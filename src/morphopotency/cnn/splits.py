"""Cross-validation splits: each fold holds out 1/folds of the cells as test, and a further share of the
rest as validation (early stopping, learning-rate search); the paper's 70/10/20 is folds=5, val 0.1.

With ``group_by`` image or donor, all cells of one image (or donor) fall on one side of every split: cells
cropped from one field share illumination, density and staining, so a random cell split (the paper's)
lets the model score on near-copies of its training cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

ROLES = ("train", "val", "test")


def split_groups(cells: pd.DataFrame, group_by: str) -> np.ndarray:
    if group_by == "none":
        return np.arange(len(cells))
    if group_by == "image":
        return (cells["donor"].astype(str) + "/" + cells["image"].astype(str)).to_numpy()
    if group_by == "donor":
        return cells["donor"].astype(str).to_numpy()
    raise ValueError(f"cnn.group_by: {group_by!r} is not one of image, donor, none")


def make_splits(
    labels: np.ndarray, groups: np.ndarray, folds: int = 5, val_fraction: float = 0.1, seed: int = 0
) -> pd.DataFrame:
    """Long table (cell, fold, role): every cell is test in exactly one fold.

    StratifiedGroupKFold keeps the class balance as close as the groups allow; the validation share comes
    from the same splitter on the remaining cells with as many splits as give ``val_fraction`` of the total.
    """
    labels = np.asarray(labels)
    n_groups = len(np.unique(groups))
    if n_groups < folds:
        raise ValueError(
            f"cnn.folds = {folds} needs at least {folds} groups to split by; there are {n_groups} (lower "
            "cnn.folds or change cnn.group_by)"
        )
    if len(np.unique(labels)) < 2:
        raise ValueError(
            "the cells carry a single class: a classifier cannot be trained (check the SSEA3 threshold)"
        )
    per_class = np.unique(labels, return_counts=True)[1]
    if per_class.min() < folds:
        raise ValueError(
            f"cnn.folds = {folds} needs at least {folds} cells of each class; the smaller class has "
            f"{per_class.min()} of "
            f"{len(labels)} cells (lower cnn.folds, add images or check imaging.ssea3_threshold)"
        )
    outer = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    rows = []
    for fold, (rest, test) in enumerate(outer.split(np.zeros(len(labels)), labels, groups)):
        smaller = np.unique(labels[rest], return_counts=True)[1].min()
        if smaller < 2:
            raise ValueError(
                f"fold {fold}: its training cells hold {smaller} cell(s) of one class, too few to set "
                "validation cells apart (lower cnn.folds or add images)"
            )
        inner_splits = max(
            2, min(round((1 - 1 / folds) / val_fraction), len(np.unique(groups[rest])), smaller)
        )
        inner = StratifiedGroupKFold(n_splits=inner_splits, shuffle=True, random_state=seed + fold + 1)
        train, val = next(inner.split(np.zeros(len(rest)), labels[rest], groups[rest]))
        for role, index in (("train", rest[train]), ("val", rest[val]), ("test", test)):
            rows.append(pd.DataFrame({"cell": index, "fold": fold, "role": role}))
    return (
        pd.concat(rows, ignore_index=True).sort_values(["fold", "cell"], kind="stable").reset_index(drop=True)
    )


def leave_donor_out(
    cells: pd.DataFrame, donor: str, group_by: str, val_fraction: float = 0.1, seed: int = 0
) -> dict[str, np.ndarray]:
    """Rows of one leave-one-donor-out split: test, every cell of ``donor``; validation, about
    ``val_fraction`` of all cells, from the other donors, grouped as ``group_by`` says (so its error rates
    are measured on images, or donors, the model did not train on); train, the rest."""
    held_out = (cells["donor"].astype(str) == str(donor)).to_numpy()
    if not held_out.any():
        raise ValueError(f"donor {donor!r} has no cells in the CNN data set")
    rest = np.flatnonzero(~held_out)
    labels = cells["label"].to_numpy()[rest]
    groups = split_groups(cells.iloc[rest], group_by)
    n_groups = len(np.unique(groups))
    smaller = np.unique(labels, return_counts=True)[1].min() if len(np.unique(labels)) == 2 else 0
    if n_groups < 2 or smaller < 2:
        raise ValueError(
            f"leaving out donor {donor}: the other donors' cells hold {n_groups} {group_by} group(s) and "
            f"{smaller} cell(s) of the smaller class, too few to set validation cells apart"
        )
    share = len(rest) / len(cells)
    splits = max(2, min(round(share / val_fraction), n_groups, smaller))
    inner = StratifiedGroupKFold(n_splits=splits, shuffle=True, random_state=seed)
    train, val = next(inner.split(np.zeros(len(rest)), labels, groups))
    return {"train": rest[train], "val": rest[val], "test": np.flatnonzero(held_out)}


def fold_indices(splits: pd.DataFrame, fold: int) -> dict[str, np.ndarray]:
    part = splits[splits["fold"] == fold]
    if part.empty:
        raise ValueError(f"fold {fold} is not in the splits table (folds: {sorted(splits['fold'].unique())})")
    return {role: part.loc[part["role"] == role, "cell"].to_numpy() for role in ROLES}
