"""Cohorts built from real labelled single-cell crops, the validation study's real-cell arm: the simulator
only shows what it can express, these show real morphology and a real batch shift.

The crops arrive as a lab's data would: tiled into fields of view (one OME-TIFF each, the shape channel
the crops' own pixels), with a label image per field the lab's tool drew (an Otsu mask per crop, labels
told apart by value) and, for the reference donors, a label channel that stains one class (what SSEA3 is
to the workflow). Donors are plates or batches: a reference donor holds whole plates, and the lots are
drawn at known fractions from plates no reference donor holds, so the reference never saw a lot's cells
or its plate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

SHAPE, LABEL = "H2B", "SSEA3"  # the fields' channel names: the crops' own signal, and the staining label
MASK_TOOL = "Otsu per crop"  # what the fields' label images record as their tool (TIFF Software tag)
STAIN = {1: 200.0, 0: 40.0}  # the label channel's mean in a cell of each class, on the 8-bit scale
STAIN_SD, BACKGROUND = 15.0, 10.0
PIXEL_SIZE_UM = 1.0  # written into the fields' metadata: the crops' own scale, never resampled


def plate_of(name: str) -> str:
    """The plate or batch a crop's file name starts with ('PLLT0013_42--...' -> 'PLLT0013')."""
    return name.split("_", 1)[0]


def read_crops(folder: str | Path, positive: Sequence[str], negative: Sequence[str]) -> pd.DataFrame:
    """One row per crop of the named classes (folder/<class>/*.png|tif): file, class_name, label (1 for
    a positive class), plate. A class named twice, or without a folder, is refused by name."""
    folder = Path(folder)
    if set(positive) & set(negative):
        raise ValueError(f"class(es) {', '.join(sorted(set(positive) & set(negative)))} named both ways")
    rows = []
    for name, label in [(c, 1) for c in positive] + [(c, 0) for c in negative]:
        found = sorted(p for p in (folder / name).glob("*") if p.suffix.lower() in (".png", ".tif", ".tiff"))
        if not found:
            raise ValueError(f"{folder / name}: no crops of class {name!r} (a sub-folder per class)")
        rows += [
            {"file": str(p), "class_name": name, "label": label, "plate": plate_of(p.name)} for p in found
        ]
    return pd.DataFrame(rows)


def read_grey(path: str | Path) -> np.ndarray:
    """A crop as 2-D float (colour averaged)."""
    from skimage import io

    image = np.asarray(io.imread(path), float)
    if image.ndim == 3:
        image = image[..., :3].mean(axis=-1)
    return image


def crop_mask(image: np.ndarray) -> np.ndarray | None:
    """The crop's cell: the Otsu object nearest the crop's centre (a crop centres its cell; a neighbour
    cut by its edge can be the larger object), holes filled; None where Otsu finds none."""
    from scipy import ndimage as ndi
    from skimage import filters, measure

    if np.ptp(image) == 0:
        return None
    objects = measure.label(image > filters.threshold_otsu(image))
    if objects.max() == 0:
        return None
    centre = (np.asarray(image.shape) - 1) / 2
    rows, cols = np.nonzero(objects)
    distance = np.hypot(rows - centre[0], cols - centre[1])
    nearest = np.full(objects.max() + 1, np.inf)
    np.minimum.at(nearest, objects[rows, cols], distance)
    return ndi.binary_fill_holes(objects == int(np.argmin(nearest)))


def split_plates(
    crops: pd.DataFrame, reference_share: float, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """(reference plates, lot plates): plates in random order go to the reference until it holds
    ``reference_share`` of each class's crops, the rest to the lots."""
    counts = (
        crops.groupby(["plate", "label"]).size().unstack(fill_value=0).reindex(columns=[0, 1], fill_value=0)
    )
    target = counts.sum() * reference_share
    held = pd.Series(0, index=counts.columns)
    reference, lots = [], []
    for plate in rng.permutation(counts.index.to_numpy()):
        row = counts.loc[plate]
        # A plate joins the reference while a class it holds is short there, unless it would take that
        # class far past the target.
        wanted = ((row > 0) & (held < target)).any() and ((held + row) <= 1.5 * target + 1).all()
        (reference if wanted else lots).append(str(plate))
        if wanted:
            held += row
    return sorted(reference), sorted(lots)


def donors_of_plates(crops: pd.DataFrame, n_donors: int, rng: np.random.Generator) -> list[list[str]]:
    """The reference plates split into ``n_donors`` donors holding both classes where the plates allow:
    plates by size (ties at random), each to the donor holding fewest crops of the plate's larger class."""
    counts = (
        crops.groupby(["plate", "label"]).size().unstack(fill_value=0).reindex(columns=[0, 1], fill_value=0)
    )
    order = counts.assign(size=counts.sum(axis=1), tie=rng.random(len(counts))).sort_values(
        ["size", "tie"], ascending=False
    )
    donors: list[list[str]] = [[] for _ in range(n_donors)]
    held = np.zeros((n_donors, 2))
    for plate, row in order.iterrows():
        major = int(row[1] > row[0])
        k = int(np.lexsort((held.sum(axis=1), held[:, major]))[0])
        donors[k].append(str(plate))
        held[k] += [row[0], row[1]]
    return donors


def draw(
    crops: pd.DataFrame, fraction: float, cells: int, rng: np.random.Generator, binomial: bool = False
) -> pd.DataFrame:
    """``cells`` crops without replacement, round(fraction x cells) of the positive class, or with
    ``binomial`` a Binomial(cells, fraction) number of them, as a lot sampled from a donor whose cells hold
    that fraction comes (as many as there are of each)."""
    pos, neg = crops[crops["label"] == 1], crops[crops["label"] == 0]
    k = int(rng.binomial(cells, fraction)) if binomial else int(round(fraction * cells))
    k = min(k, len(pos))
    rest = min(cells - k, len(neg))
    chosen = pd.concat([pos.sample(k, random_state=rng), neg.sample(rest, random_state=rng)])
    return chosen.sample(frac=1, random_state=rng).reset_index(drop=True)


def tile(
    crops: pd.DataFrame, grid: int, rng: np.random.Generator, stain: bool = True, blur: float = 0.0
) -> list[tuple[np.ndarray, np.ndarray, pd.DataFrame]]:
    """Fields of ``grid`` x ``grid`` crops: (image, labels, cells) each. image: uint16 (channels, H, W),
    the crops' pixels less each crop's background median (x 257: an 8-bit crop at 16 bits) and with
    ``stain`` a label channel, STAIN[label] with noise inside each cell over BACKGROUND; ``blur``: a
    Gaussian of that sd (pixels) over the shape channel, a focus problem; labels: each crop's mask
    (crop_mask), cell ids 1..; cells: cell_id, file, class_name, label, plate. A crop whose mask is empty
    is left out."""
    from scipy import ndimage as ndi

    usable = []
    for r in crops.itertuples():
        image = read_grey(r.file)
        mask = crop_mask(image)
        if mask is not None:
            usable.append((r, image, mask))
    side = max((image.shape[0] for _, image, _ in usable), default=1)
    fields = []
    for start in range(0, len(usable), grid * grid):
        part = usable[start : start + grid * grid]
        shape = np.zeros((grid * side, grid * side))
        labels = np.zeros(shape.shape, np.uint16)
        rows = []
        for k, (r, image, mask) in enumerate(part):
            top, left = (k // grid) * side, (k % grid) * side
            h, w = image.shape
            # Less the crop's own background: tiles of other backgrounds side by side would otherwise meet
            # in edges sharper than any cell's, which a focus measure reads as the field's.
            shape[top : top + h, left : left + w] = np.maximum(image - np.median(image[~mask]), 0)
            labels[top : top + h, left : left + w][mask] = k + 1
            rows.append(
                {"cell_id": k + 1, **{c: getattr(r, c) for c in ("file", "class_name", "label", "plate")}}
            )
        cells = pd.DataFrame(rows)
        if blur > 0:
            shape = ndi.gaussian_filter(shape, blur)
        channels = [shape]
        if stain:
            mean = np.full(labels.shape, BACKGROUND)
            by_cell = np.concatenate([[BACKGROUND], [STAIN[int(v)] for v in cells["label"]]])
            mean = np.where(labels > 0, by_cell[labels], mean)
            channels.append(mean + rng.normal(0, STAIN_SD, labels.shape) * (labels > 0))
        image = np.clip(np.rint(np.stack(channels) * 257), 0, 65535).astype(np.uint16)
        fields.append((image, labels, cells))
    return fields


def write_cohort(
    folder: str | Path,
    donors: Mapping[str, pd.DataFrame],
    stained: Sequence[str],
    seed: int,
    grid: int = 8,
    blur: Mapping[str, float] | None = None,
) -> None:
    """Each donor's crops as fields under ``folder``: images/<donor>/<donor>_fieldNN.ome.tif (the label
    channel for the ``stained`` donors only), masks/<donor>/<same>.tif (their Software tag MASK_TOOL) and
    truth/<donor>.tsv (image, cell_id and the crop each cell is). A donor drawn from the same crops as
    before (truth/<donor>.crops.txt) is left as written, so a workflow run over the folder redoes only
    what changed."""
    import tifffile

    from morphopotency.io.atomic import atomic_path
    from morphopotency.simulate import write_ome_tiff

    folder = Path(folder)
    blur = dict(blur or {})
    for n, (donor, crops) in enumerate(donors.items()):
        drawn = folder / f"truth/{donor}.crops.txt"
        listed = "\n".join(crops["file"]) + "\n"
        if drawn.is_file() and drawn.read_text() == listed and (folder / f"truth/{donor}.tsv").is_file():
            continue
        rng = np.random.default_rng([seed, n])
        fields = tile(crops, grid, rng, stain=donor in stained, blur=float(blur.get(donor, 0.0)))
        truth = []
        for i, (image, labels, cells) in enumerate(fields):
            name = f"{donor}_field{i + 1:02d}"
            names = (SHAPE, LABEL)[: len(image)]
            write_ome_tiff(folder / f"images/{donor}/{name}.ome.tif", image, names, PIXEL_SIZE_UM, name)
            with atomic_path(folder / f"masks/{donor}/{name}.tif") as tmp:
                tifffile.imwrite(tmp, labels, compression="zlib", software=MASK_TOOL)
            truth.append(cells.assign(image=name))
        with atomic_path(folder / f"truth/{donor}.tsv") as tmp:
            pd.concat(truth, ignore_index=True).to_csv(tmp, sep="\t", index=False)
        with atomic_path(drawn) as tmp:
            tmp.write_text(listed)


def separability(crops: pd.DataFrame, folds: int = 5, seed: int = 0) -> dict[str, float]:
    """How well shape alone tells the two groups apart: a class-balanced logistic regression on each
    crop's mask measures (area, perimeter, circularity, eccentricity, solidity, aspect ratio), balanced
    accuracy and ROC-AUC under stratified ``folds``-fold cross-validation. A study arm whose groups
    separate too well cannot tell scorers apart; too poorly, no score is worth having."""
    from skimage import measure
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows, labels = [], []
    for r in crops.itertuples():
        mask = crop_mask(read_grey(r.file))
        if mask is None:
            continue
        p = measure.regionprops(mask.astype(np.uint8))[0]
        rows.append(
            [
                p.area,
                p.perimeter,
                4 * np.pi * p.area / max(p.perimeter, 1.0) ** 2,
                p.eccentricity,
                p.solidity,
                p.axis_major_length / max(p.axis_minor_length, 1.0),
            ]
        )
        labels.append(r.label)
    x, y = np.asarray(rows, float), np.asarray(labels, int)
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    prob = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    return {
        "crops": len(y),
        "positive": int(y.sum()),
        "balanced_accuracy": float(balanced_accuracy_score(y, prob >= 0.5)),
        "roc_auc": float(roc_auc_score(y, prob)),
    }
