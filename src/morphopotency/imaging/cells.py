"""Per-cell measurements, SSEA3 labels and single-cell crops from a label image."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage import filters, measure, transform

from morphopotency.imaging.io import Image

SHAPE_PROPERTIES = (
    "label",
    "centroid",
    "area",
    "perimeter",
    "solidity",
    "eccentricity",
    "axis_major_length",
    "axis_minor_length",
    "bbox",
)
# Which pixels of a cell its SSEA3 intensity is the mean of (imaging.ssea3_region), by measure column.
SSEA3_REGIONS = {"whole": "label_mean", "inner": "label_inner_mean"}


def inner_half_mean(regionmask: np.ndarray, intensity: np.ndarray) -> float:
    """Mean intensity over the inner half of a cell's pixels: those at least the cell's median distance
    from its outline. A segmented outline reaches past the stained cell into background (blur, a
    generous threshold), and a whole-cell mean is diluted by it the more so the larger that margin: on
    the demo's cells, 6 % of those planted SSEA3-high read below 90 over the whole outline, none over its
    inner half. Written by hand: scikit-image measures whole regions only; used as one of its
    regionprops ``extra_properties``."""
    distance = ndi.distance_transform_edt(np.pad(regionmask, 1))[1:-1, 1:-1]
    inner = regionmask & (distance >= np.median(distance[regionmask]))
    return float(np.mean(intensity[inner]))


def ssea3_means(labels: np.ndarray, plane: np.ndarray, region: str) -> pd.Series:
    """Each labelled cell's mean SSEA3 over ``region`` (SSEA3_REGIONS), indexed by cell id."""
    if region not in SSEA3_REGIONS:
        raise ValueError(f"SSEA3 region {region!r}: expected one of {', '.join(SSEA3_REGIONS)}")
    extra = (inner_half_mean,) if region == "inner" else ()
    props = measure.regionprops_table(
        labels,
        intensity_image=np.asarray(plane, float),
        properties=("label", "intensity_mean"),
        extra_properties=extra,
    )
    column = "inner_half_mean" if region == "inner" else "intensity_mean"
    return pd.Series(props[column], index=props["label"].astype(int), dtype=float)


def measure_cells(image: Image, labels: np.ndarray, donor: str, image_id: str) -> pd.DataFrame:
    """One row per labelled cell: geometry, mean / integrated intensity of every channel present, and the
    SSEA3 label's mean over the cell's inner half too (``label_inner_mean``, inner_half_mean)."""
    planes = {"shape": image.shape, "label": image.label, "nuclei": image.nuclei}
    present = {k: v for k, v in planes.items() if v is not None}
    stack = np.stack(list(present.values()), axis=-1)
    props = measure.regionprops_table(
        labels, intensity_image=stack, properties=(*SHAPE_PROPERTIES, "intensity_mean")
    )
    table = pd.DataFrame(props)
    n = len(table)
    out = pd.DataFrame(
        {
            "donor": [donor] * n,
            "image": [image_id] * n,
            "cell_id": table["label"].astype(int).to_numpy(),
            "centroid_row": table["centroid-0"].to_numpy(),
            "centroid_col": table["centroid-1"].to_numpy(),
            "area": table["area"].to_numpy(),
            "perimeter": table["perimeter"].to_numpy(),
        }
    )
    out["circularity"], out["aspect_ratio"] = outline_ratios(table)
    # Our segmentation drops cells cut by the border; a lab's own masks may not, and a cut cell's shape is
    # not its shape: a scoring run counts them.
    out["touches_border"] = cut_by_border(table, labels.shape)
    out["edge_weight"] = edge_weights(table, labels.shape)
    out["solidity"] = table["solidity"].to_numpy()
    out["eccentricity"] = table["eccentricity"].to_numpy()
    # The stack always has a channel axis, so scikit-image names every channel's column, even a lone one.
    for i, role in enumerate(present):
        mean = table[f"intensity_mean-{i}"].to_numpy()
        out[f"{role}_mean"] = mean
        out[f"{role}_integrated"] = mean * out["area"].to_numpy()
    if image.label is not None:
        out["label_inner_mean"] = ssea3_means(labels, image.label, "inner").loc[out["cell_id"]].to_numpy()
    return out


def edge_weights(props: pd.DataFrame, shape: tuple[int, int]) -> np.ndarray:
    """Miles-Lantuejoul edge correction of each cell (regionprops rows with bbox-0..3): H W / ((H - h)
    (W - w)), the inverse of the chance that a cell of its h x w bounding box, placed anywhere, lies
    wholly inside the H x W field.

    Cells cut by the border are dropped, and a long cell is cut more often than a compact one, the more
    so the smaller the field: unweighted, a lot imaged over larger fields than the reference's keeps more
    of its elongated cells, and its shares differ from the reference's for that alone. Weighted, every
    field size estimates the same shares. A cell that touches the border (a lab's own masks keep them)
    has an unknown extent: 1. Written by hand: a formula of the bounding box no library offers."""
    rows, cols = shape
    height = (props["bbox-2"] - props["bbox-0"]).to_numpy(float)
    width = (props["bbox-3"] - props["bbox-1"]).to_numpy(float)
    with np.errstate(divide="ignore"):
        weight = rows * cols / ((rows - height) * (cols - width))
    return np.where(cut_by_border(props, shape), 1.0, weight)


def cut_by_border(props: pd.DataFrame, shape: tuple[int, int]) -> np.ndarray:
    """Whether each cell's bounding box (regionprops bbox-0..3) reaches the field's border."""
    rows, cols = shape
    return (
        (props["bbox-0"] == 0)
        | (props["bbox-1"] == 0)
        | (props["bbox-2"] == rows)
        | (props["bbox-3"] == cols)
    ).to_numpy()


def outline_ratios(props: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Circularity 4 pi area / perimeter^2 and aspect ratio major / minor axis of regionprops rows;
    NaN where the denominator is 0 (a one-pixel or one-line object)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        circularity = np.where(
            props["perimeter"] > 0, 4 * np.pi * props["area"] / props["perimeter"] ** 2, np.nan
        )
        aspect = np.where(
            props["axis_minor_length"] > 0, props["axis_major_length"] / props["axis_minor_length"], np.nan
        )
    return np.asarray(circularity, float), np.asarray(aspect, float)


CROP_PROPERTIES = ("area", "perimeter", "solidity", "eccentricity", "axis_major_length", "axis_minor_length")


def crop_shape(image: np.ndarray) -> dict[str, float]:
    """The shape measures the imaging branch takes of each segmented cell, taken of a single-cell crop
    that comes without a mask (a CellProfiler export, imaging flow cytometry): the largest object of
    its Otsu mask. A crop Otsu cannot split (a flat image) has NaN measures."""
    image = np.asarray(image, float)
    if np.ptp(image) == 0:
        return dict.fromkeys(
            ("area", "perimeter", "circularity", "aspect_ratio", "solidity", "eccentricity"), np.nan
        )
    labels = measure.label(image > filters.threshold_otsu(image))
    props = pd.DataFrame(measure.regionprops_table(labels, properties=CROP_PROPERTIES))
    largest = props.loc[[props["area"].idxmax()]]
    circularity, aspect = outline_ratios(largest)
    return {
        "area": float(largest["area"].iloc[0]),
        "perimeter": float(largest["perimeter"].iloc[0]),
        "circularity": float(circularity[0]),
        "aspect_ratio": float(aspect[0]),
        "solidity": float(largest["solidity"].iloc[0]),
        "eccentricity": float(largest["eccentricity"].iloc[0]),
    }


def to_8bit(values: np.ndarray | pd.Series, max_value: float) -> np.ndarray:
    """The paper's 8-bit scale: linear, full scale of the stored type (or bit depth) maps to 255.

    A 16-bit intensity v becomes v * 255 / 65535 (= v / 257); 12-bit data stored in 16-bit words should
    declare imaging.bit_depth: 12 so that 4095 maps to 255.
    """
    return np.asarray(values, dtype=float) * 255.0 / max_value


def ssea3_threshold(values_8bit: np.ndarray, threshold: float | str) -> float:
    """The configured threshold, or Otsu's on the pooled per-cell intensities when 'otsu'."""
    if threshold == "otsu":
        return (
            float(filters.threshold_otsu(np.asarray(values_8bit, dtype=float)))
            if len(values_8bit) > 1
            else 90.0
        )
    return float(threshold)


def donor_fractions(cells: pd.DataFrame, donors: list[str], threshold: float) -> pd.DataFrame:
    """SSEA3-positive share per donor; a donor whose images held no cell is a row with 0 cells (fraction
    NaN), so an empty field shows in the tables instead of the donor silently vanishing."""
    fraction = (
        cells.groupby("donor")
        .agg(
            cells=("multipotent", "size"),
            ssea3_positive=("multipotent", "sum"),
            mean_ssea3_8bit=("ssea3_8bit", "mean"),
        )
        .reindex(donors)
        .fillna({"cells": 0, "ssea3_positive": 0})
        .astype({"cells": int, "ssea3_positive": int})
        .rename_axis("donor")
        .reset_index()
    )
    fraction["ssea3_positive_fraction"] = fraction["ssea3_positive"] / fraction["cells"].where(
        fraction["cells"] > 0
    )
    fraction["threshold"] = threshold
    return fraction


def crop_cells(
    shape: np.ndarray,
    labels: np.ndarray,
    cell_ids: np.ndarray,
    size: int,
    max_value: float,
    window: int | None = None,
) -> np.ndarray:
    """(cells, size, size) uint8: each cell's shape channel with pixels outside its mask zeroed,
    centred on a square canvas and resized; row order = ``cell_ids``.

    The canvas side is the longer bbox side + 10 % (the paper's crops: every cell fills its image, so its
    size is lost), or ``window`` pixels when given (all cells at one scale, so a classifier sees size too;
    a cell longer than the window is shrunk to fit).
    """
    crops = np.zeros((len(cell_ids), size, size), dtype=np.uint8)
    boxes = {r.label: r.bbox for r in measure.regionprops(labels)}
    for k, cid in enumerate(cell_ids):
        r0, c0, r1, c1 = boxes[int(cid)]
        patch = np.where(labels[r0:r1, c0:c1] == cid, shape[r0:r1, c0:c1], 0).astype(np.float32)
        side = max(int(np.ceil(max(patch.shape) * 1.1)) + 2, window or 0)
        canvas = np.zeros((side, side), dtype=np.float32)
        top, left = (side - patch.shape[0]) // 2, (side - patch.shape[1]) // 2
        canvas[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
        resized = transform.resize(canvas, (size, size), order=1, preserve_range=True, anti_aliasing=True)
        crops[k] = np.clip(np.rint(resized * 255.0 / max_value), 0, 255).astype(np.uint8)
    return crops


def outer_contours(labels: np.ndarray, cell_ids: np.ndarray) -> list[np.ndarray]:
    """Outer boundary (rows, cols) of each cell, split by label value, never by connected components."""
    boxes = {r.label: r.bbox for r in measure.regionprops(labels)}
    contours = []
    for cid in cell_ids:
        r0, c0, r1, c1 = boxes[int(cid)]
        mask = np.pad(labels[r0:r1, c0:c1] == cid, 1)
        found = measure.find_contours(mask.astype(np.float32), 0.5)
        longest = max(found, key=len) if found else np.zeros((0, 2))
        contours.append(longest[:-1] + np.array([r0 - 1, c0 - 1]))  # closing point not repeated
    return contours
