"""Labelled single-cell images for the CNN: the imaging branch's crops + SSEA3 labels, or a folder of
images with one sub-folder per class, as one uint8 array (cells, side, side) and a table of cells."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import tifffile
from skimage import io as skio
from skimage.transform import resize

from morphopotency.features import CELL_COLUMNS, SHAPE_FEATURES
from morphopotency.io.atomic import atomic_path
from morphopotency.io.tables import write_tsv

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


@dataclass(frozen=True)
class CellData:
    """``crops[i]`` is the cell in row ``i`` of ``cells`` (donor, image, cell_id, label, shape features)."""

    crops: np.ndarray
    cells: pd.DataFrame

    def __post_init__(self):
        if self.crops.dtype != np.uint8 or self.crops.ndim != 3 or len(self.crops) != len(self.cells):
            raise ValueError(
                f"crops must be uint8 (cells, h, w) with one row per cell; got {self.crops.dtype} "
                f"{self.crops.shape} for {len(self.cells)} cells"
            )

    @property
    def labels(self) -> np.ndarray:
        return self.cells["label"].to_numpy(dtype=np.int64)


def from_imaging(
    cell_tables: Sequence[str | Path], crop_files: Sequence[str | Path], labels_tsv: str | Path
) -> CellData:
    """Join each donor's crops (same row order as its .h5ad) to the SSEA3 labels by donor, image and
    cell id.
    """
    obs, crops = [], []
    for table, crop_file in zip(cell_tables, crop_files):
        cells = ad.read_h5ad(table).obs.reset_index(drop=True)
        array = np.load(crop_file, allow_pickle=False)
        if len(array) != len(cells):
            raise ValueError(f"{crop_file}: {len(array)} crops but {table} lists {len(cells)} cells")
        obs.append(cells)
        crops.append(array)
    cells = pd.concat(obs, ignore_index=True)
    labels = pd.read_csv(labels_tsv, sep="\t", dtype={"donor": str, "image": str})
    keys = ["donor", "image", "cell_id"]
    merged = cells.merge(labels[keys + ["multipotent"]], on=keys, how="left", validate="one_to_one")
    missing = merged["multipotent"].isna()
    if missing.any():
        first = merged.loc[missing, keys].iloc[0].tolist()
        raise ValueError(
            f"{labels_tsv}: no SSEA3 label for {int(missing.sum())} cells (first: donor {first[0]}, "
            f"image {first[1]}, cell {first[2]})"
        )
    merged["label"] = merged["multipotent"].astype(bool).astype(int)
    columns = keys + ["label"] + [f for f in CELL_COLUMNS if f in merged]
    return CellData(np.concatenate(crops) if crops else np.zeros((0, 1, 1), np.uint8), merged[columns])


def _read_grey(path: Path) -> np.ndarray:
    image = tifffile.imread(path) if path.suffix.lower() in (".tif", ".tiff") else skio.imread(path)
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:  # RGB(A) or channels-last: average the colour channels
        image = image[..., :3].mean(axis=-1) if image.shape[-1] in (3, 4) else image.mean(axis=0)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(f"{path}: not a 2-D single-cell image (shape {image.shape})")
    return image


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Per-image min-max to 0-255 (the paper's normalisation), so any bit depth lands on one scale."""
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.round(scaled * 255).astype(np.uint8)


FOLDER_DONOR = "folder"  # the one donor of a folder without metadata.tsv
METADATA = "metadata.tsv"


def _class_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def folder_files(folder: str | Path) -> list[Path]:
    """Every image of the class sub-folders and the metadata.tsv, in a fixed order (provenance)."""
    folder = Path(folder)
    files = [
        p
        for name in _class_folders(folder)
        for p in sorted((folder / name).iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES
    ]
    return files + ([folder / METADATA] if (folder / METADATA).is_file() else [])


def from_folder(folder: str | Path, positive_class: str, side: int) -> CellData:
    """``folder/<class>/*.png|tif|...``: ``positive_class`` is label 1, every other sub-folder label 0.

    Images are resized once to ``side`` x ``side`` here, never in the training loop; their shape measures
    (``imaging.cells.crop_shape``, of the image as it came) give the shape-feature baseline. An optional
    ``folder/metadata.tsv`` (file, donor, image) says which donor and image each cell came from, so
    grouped splits and per-donor fractions work on users' own cells too; without it every file is its
    own image (its own group) and every cell belongs to one donor, ``folder``.
    """
    from morphopotency.imaging.cells import crop_shape

    folder = Path(folder)
    classes = _class_folders(folder)
    if positive_class not in classes or len(classes) < 2:
        raise ValueError(
            f"{folder}: needs one sub-folder per class including {positive_class!r}; found "
            f"{classes or 'none'}"
        )
    rows, crops = [], []
    for name in classes:
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{folder / name}: no images ({', '.join(IMAGE_SUFFIXES)})")
        for path in files:
            try:
                grey = _read_grey(path)
            except (OSError, ValueError, SyntaxError) as error:
                raise ValueError(f"{path}: cannot read image ({error})") from error
            crops.append(
                to_uint8(resize(grey, (side, side), order=1, anti_aliasing=True, preserve_range=True))
            )
            rows.append(
                {
                    "file": f"{name}/{path.name}",
                    "donor": FOLDER_DONOR,
                    "image": f"{name}/{path.name}",
                    "cell_id": len(rows) + 1,
                    "label": int(name == positive_class),
                    **crop_shape(grey),
                }
            )
    cells = pd.DataFrame(rows)
    meta_path = folder / METADATA
    if meta_path.is_file():
        meta = pd.read_csv(meta_path, sep="\t", dtype=str)
        missing = {"file", "donor", "image"} - set(meta.columns)
        if missing:
            raise ValueError(f"{meta_path}: missing column(s) {', '.join(sorted(missing))}")
        cells = cells.drop(columns=["donor", "image"]).merge(
            meta[["file", "donor", "image"]], on="file", how="left"
        )
        unknown = cells["donor"].isna()
        if unknown.any():
            raise ValueError(
                f"{meta_path}: no row for {cells.loc[unknown, 'file'].iloc[0]} (and "
                f"{int(unknown.sum()) - 1} more)"
            )
    return CellData(np.stack(crops), cells[["donor", "image", "cell_id", "label", "file", *SHAPE_FEATURES]])


def save(data: CellData, crops_path: str | Path, cells_path: str | Path) -> None:
    with atomic_path(crops_path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, data.crops, allow_pickle=False)
    write_tsv(data.cells, cells_path)


def load(crops_path: str | Path, cells_path: str | Path) -> CellData:
    cells = pd.read_csv(cells_path, sep="\t", dtype={"donor": str, "image": str})
    return CellData(np.load(crops_path, allow_pickle=False), cells)
