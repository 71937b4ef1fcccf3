"""Segmentation on real annotated frames, measured so that it cannot be tuned to its own test.

Sources (each benchmarked on its own; frames as they come, shape channel only, no nuclei channel):

- ``ctc_msc_01``: ../shared/data/ctc_msc_01, 18 frames of Cell Tracking Challenge Fluo-C2DL-MSC sequence
  01 with manual masks (rat mesenchymal stem cells; research use, cite the challenge);
- ``dsb2018``: the fluorescence nuclei frame of the 2018 Data Science Bowl (Caicedo et al., Nat. Methods
  2019; BBBC038, CC0) with its 183 annotated nuclei, as the ``stardist`` package ships it (BSD-3; read as
  files, stardist is not imported: ``pip install --no-deps stardist==0.9.2``, which ``make setup`` does).
  Densely packed blobs, another kind than the MSC frames: it is brought to the MSC frames' median
  annotated cell area (segmentation parameters are in pixels; a lab sets imaging.resample_um for the
  same reason) and cut into four quarter frames, so that it can be cross-validated too.

Every frame is segmented once per parameter set of a grid around the defaults (border cells kept, as
the annotations include them), and per frame the benchmark keeps SEG's per-cell Jaccard indices, matched
objects at IoU 0.5, cells split and merges (morphopotency.imaging.metrics). Per source it prints, all
measured in the same run:

- the baseline (smoothed Otsu + distance watershed), the defaults and, with --cellpose-model FILE, that
  Cellpose model (imaging.segmenter: cellpose) on every frame: seconds per megapixel, SEG, objects, object
  F1, cells split (share of annotated cells), merges, and SEG's spread over frames; on nuclei frames also
  the defaults with the frame as its own nuclei channel (seeded by nuclei, as a lab imaging DAPI gets);
- frame-level cross-validation: for each of --folds splits of the frames, the grid's parameters that
  score best (mean of SEG and object F1) on the other frames, scored on the held-out ones; pooled over
  the splits every frame is scored once, by parameters chosen without it;
- a sensitivity sweep: each parameter at 0.5-1.5 x its default, the others at theirs, so a flat optimum
  shows as a flat row and a peak tuned to these frames as a spike.

Run: .venv/bin/python bench/segmentation_seg.py [--folds 6] [--workers 2] [--cellpose-model FILE]
     [--also KEY=VALUE ...]   (the defaults with these changes as a row of their own)
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import itertools
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import yaml
from scipy import ndimage as ndi
from skimage import feature, filters, measure, segmentation
from skimage.transform import rescale

from morphopotency.imaging.metrics import match_f1, seg_score, splits_and_merges
from morphopotency.imaging.segment import SegmentationParams, segment_cells

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctc_msc_01"
DEFAULTS = replace(SegmentationParams(), drop_border=False)
# The parameters that decide objects without a nuclei channel; the grid the cross-validation chooses in.
SWEPT = ("smooth_sigma", "low", "high", "background_size", "seed_sigma", "seed_h", "min_area_share")
GRID = {
    "background_size": (151, 251, 351),
    "seed_sigma": (8.0, 12.0),
    "seed_h": (5.0, 10.0, 15.0),
    "min_area_share": (0.2, 0.3),
}
FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5)
NUCLEI = ("dsb2018",)  # sources of nuclei images
AS_NUCLEI = "defaults, frame as its nuclei channel"


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


def ctc_frames() -> list[tuple[str, np.ndarray, np.ndarray]]:
    frames = sorted(glob.glob(str(DATA / "images" / "t*.tif")))
    if not frames:
        raise SystemExit(f"no frames under {DATA}: the benchmark needs ../shared/data/ctc_msc_01")
    return [
        (
            Path(f).stem,
            tifffile.imread(f).astype(float),
            tifffile.imread(f.replace("images/t", "masks/man_seg")),
        )
        for f in frames
    ]


def median_area(frames: list[tuple[str, np.ndarray, np.ndarray]]) -> float:
    areas = np.concatenate([np.bincount(truth.ravel())[1:] for _, _, truth in frames])
    return float(np.median(areas[areas > 0]))


def dsb_frames(target_area: float) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The 2018 Data Science Bowl frame stardist ships, at ``target_area`` median nucleus area, in four
    quarters; empty (with a note) where stardist is not installed."""
    spec = importlib.util.find_spec("stardist")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        print("dsb2018 skipped: pip install --no-deps stardist==0.9.2 ships its frame")
        return []
    folder = Path(list(spec.submodule_search_locations)[0]) / "data" / "images"
    image = tifffile.imread(folder / "img2d.tif").astype(float)
    truth = tifffile.imread(folder / "mask2d.tif")
    zoom = float(np.sqrt(target_area / median_area([("", image, truth)])))
    image = rescale(image, zoom, order=1, preserve_range=True)
    truth = rescale(truth, zoom, order=0, preserve_range=True, anti_aliasing=False).astype(np.int32)
    half = (image.shape[0] // 2, image.shape[1] // 2)
    quarters = [(slice(0, half[0]), slice(0, half[1])), (slice(0, half[0]), slice(half[1], None))]
    quarters += [(slice(half[0], None), slice(0, half[1])), (slice(half[0], None), slice(half[1], None))]
    return [
        (f"q{k + 1}", image[q], segmentation.relabel_sequential(truth[q])[0]) for k, q in enumerate(quarters)
    ]


def load_sources() -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    ctc = ctc_frames()
    sources = {"ctc_msc_01": ctc, "dsb2018": dsb_frames(median_area(ctc))}
    return {name: frames for name, frames in sources.items() if frames}


def measure_frame(job: tuple[str, dict | None, str, np.ndarray, np.ndarray]) -> dict:
    """One frame under one parameter set (None: the baseline): the counts every summary is made from."""
    label, params, frame, image, truth = job
    start = time.perf_counter()
    if params is None:
        labels = baseline(image)
    elif params.get("nuclei_channel"):  # a nuclei image: the frame is its own nuclei channel too
        kept = SegmentationParams(**{k: v for k, v in params.items() if k != "nuclei_channel"})
        labels = segment_cells(image, image, kept)
    elif "cellpose_model" in params:
        from morphopotency.imaging.learned import segment_cellpose

        kept = SegmentationParams(**{k: v for k, v in params.items() if k != "cellpose_model"})
        labels = segment_cellpose(image, None, params["cellpose_model"], tidy=kept)
    else:
        labels = segment_cells(image, None, SegmentationParams(**params))
    seconds = time.perf_counter() - start
    jaccard = seg_score(truth, labels)[1]
    _, tp, fp, fn = match_f1(truth, labels)
    splits, merges = splits_and_merges(truth, labels)
    return {
        "set": label,
        "frame": frame,
        "seconds": seconds,
        "megapixels": image.size / 1e6,
        "seg_sum": float(np.sum(jaccard)),
        "cells": len(jaccard),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "splits": splits,
        "merges": merges,
    }


def summary(rows: pd.DataFrame) -> dict:
    """Pooled measures over the frames in ``rows`` (one parameter set)."""
    tp, fp, fn, cells = (int(rows[c].sum()) for c in ("tp", "fp", "fn", "cells"))
    return {
        "SEG": rows["seg_sum"].sum() / max(cells, 1),
        "objects": tp + fp,
        "F1": 2 * tp / max(2 * tp + fp + fn, 1),
        "split_share": rows["splits"].sum() / max(cells, 1),
        "splits": int(rows["splits"].sum()),
        "merges": int(rows["merges"].sum()),
        "s_per_MP": rows["seconds"].sum() / rows["megapixels"].sum(),
    }


def parameter_sets() -> dict[str, dict]:
    """name -> SegmentationParams fields: the defaults, the grid, and the sweep of each parameter."""
    base = asdict(DEFAULTS)
    sets = {"defaults": base}
    for values in itertools.product(*GRID.values()):
        changes = dict(zip(GRID, values))
        sets["grid " + ", ".join(f"{k}={v:g}" for k, v in changes.items())] = base | changes
    for name in SWEPT:
        for factor in FACTORS:
            if factor != 1.0:
                value = type(base[name])(base[name] * factor)
                if name == "background_size":
                    value = int(value) | 1  # an odd window
                sets[f"sweep {name} x{factor:g}"] = base | {name: value}
    return sets


def cross_validate(table: pd.DataFrame, folds: int) -> tuple[pd.DataFrame, dict]:
    """Per split: the grid's (and the defaults') set best on the other frames, scored on the held-out
    ones; and the measures pooled over every held-out frame."""
    frames = sorted(table["frame"].unique())
    candidates = [s for s in table["set"].unique() if s.startswith("grid") or s == "defaults"]
    rows, chosen_rows = [], []
    for k in range(folds):
        test = frames[k::folds]
        train = table[~table["frame"].isin(test)]
        scores = {s: summary(train[train["set"] == s]) for s in candidates}
        best = max(candidates, key=lambda s: (scores[s]["SEG"] + scores[s]["F1"]) / 2)
        held = table[(table["set"] == best) & table["frame"].isin(test)]
        chosen_rows.append(held)
        rows.append({"split": k + 1, "test frames": ",".join(test), "chosen": best, **summary(held)})
    return pd.DataFrame(rows), summary(pd.concat(chosen_rows))


def report(source: str, table: pd.DataFrame, folds: int, extra: tuple[str, ...] = ()) -> None:
    """Everything printed for one source (``table``: its frames under every parameter set; ``extra``: the
    sets printed beside the baseline and the defaults)."""
    cells = int(table[table["set"] == "defaults"]["cells"].sum())
    frames = table["frame"].nunique()
    print(f"\n=== {source}: {frames} frames, {cells} annotated cells ===")
    print("\nOn every frame:")
    names = ("baseline", "defaults", *extra)
    every = pd.DataFrame({name: summary(table[table["set"] == name]) for name in names}).T
    print(every.round(3).to_string())
    per_frame = table[table["set"] == "defaults"].assign(SEG=lambda t: t["seg_sum"] / t["cells"])
    print(
        f"defaults' SEG per frame: min {per_frame['SEG'].min():.3f}, median {per_frame['SEG'].median():.3f}, "
        f"max {per_frame['SEG'].max():.3f}"
    )
    splits, pooled = cross_validate(table, min(folds, frames))
    print(f"\nFrame-level cross-validation ({min(folds, frames)} splits; parameters chosen on the others):")
    print(splits.round(3).to_string(index=False))
    print("pooled over held-out frames: " + ", ".join(f"{k} {v:.3g}" for k, v in pooled.items()))
    print("\nSensitivity (each parameter alone at a multiple of its default; pooled over every frame):")
    sweep = []
    for name in SWEPT:
        for factor in FACTORS:
            label = "defaults" if factor == 1.0 else f"sweep {name} x{factor:g}"
            s = summary(table[table["set"] == label])
            sweep.append({"parameter": name, "factor": factor, **s})
    sweep = pd.DataFrame(sweep)
    for measure_name in ("SEG", "F1", "split_share"):
        print(f"\n{measure_name}:")
        print(sweep.pivot(index="parameter", columns="factor", values=measure_name).round(3).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--folds", type=int, default=6, help="splits of the frames for cross-validation")
    parser.add_argument("--workers", type=int, default=2, help="processes segmenting frames in parallel")
    parser.add_argument(
        "--cellpose-model", help="also score this Cellpose 3 model file (imaging.segmenter: cellpose)"
    )
    parser.add_argument(
        "--also",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="also score the defaults with these changes, as a row of its own (e.g. background_size=101)",
    )
    args = parser.parse_args()
    sources = load_sources()
    sets = parameter_sets()
    if args.also:
        changes = dict(item.split("=", 1) for item in args.also)
        sets["also"] = asdict(DEFAULTS) | {k: yaml.safe_load(v) for k, v in changes.items()}
    if args.cellpose_model:
        sets["cellpose"] = asdict(DEFAULTS) | {"cellpose_model": args.cellpose_model}
    # Nuclei frames are also segmented as a lab imaging nuclei would configure it: nuclei channel = frame.
    nuclei_sets = {AS_NUCLEI: asdict(DEFAULTS) | {"nuclei_channel": True}}
    jobs = [
        (f"{source}|{name}", params, f, im, tr)
        for source, frames in sources.items()
        for name, params in {"baseline": None, **sets, **(nuclei_sets if source in NUCLEI else {})}.items()
        for f, im, tr in frames
    ]
    start = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        table = pd.DataFrame(list(pool.map(measure_frame, jobs, chunksize=4)))
    table[["source", "set"]] = table["set"].str.split("|", n=1, expand=True)
    print(
        f"{len(jobs)} segmentations ({len(sets) + 1} parameter sets) in {time.perf_counter() - start:.0f} s"
    )
    pd.set_option("display.width", 200)
    for source in sources:
        extra = (("cellpose",) if args.cellpose_model else ()) + (("also",) if args.also else ())
        extra += (AS_NUCLEI,) if source in NUCLEI else ()
        report(source, table[table["source"] == source], args.folds, extra)


if __name__ == "__main__":
    main()
