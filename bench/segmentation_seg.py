"""Segmentation on real annotated frames, measured so that it cannot be tuned to its own test.

Sources (each benchmarked on its own; frames as they come, shape channel only, no nuclei channel):

- ``ctc_msc_01``: ../shared/data/ctc_msc_01, 18 frames of Cell Tracking Challenge Fluo-C2DL-MSC sequence
  01 with manual masks (rat mesenchymal stem cells; research use, cite the challenge);
- ``dsb2018``: the fluorescence nuclei frame of the 2018 Data Science Bowl (Caicedo et al., Nat. Methods
  2019; BBBC038, CC0) with its 183 annotated nuclei, as the ``stardist`` package ships it (BSD-3; read as
  files, stardist is not imported: ``pip install --no-deps stardist==0.9.2``, which ``make setup`` does).
  Densely packed blobs, another kind than the MSC frames: it is brought to the MSC frames' median
  annotated cell area (segmentation parameters are in pixels; a lab sets imaging.resample_um for the
  same reason) and cut into four quarter frames, so that it can be cross-validated too;
- a lab's own annotated frames, ``--frames DIR`` (each folder a source, its frames as they come):
  ``images/`` beside ``masks/``, or a Cell Tracking Challenge sequence as downloaded (``02/`` with
  ``02_GT/SEG/`` beside it), so that the defaults are measured, and parameters chosen, on the lab's cells.

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
- the grid's set best on every frame of the source, as imaging.segmentation lines for a config (its
  cross-validated measures above say what to expect of it on frames it was not chosen on);
- a sensitivity sweep: each parameter at 0.5-1.5 x its default, the others at theirs, so a flat optimum
  shows as a flat row and a peak tuned to these frames as a spike.

Run: .venv/bin/python bench/segmentation_seg.py [--folds 6] [--workers 2] [--cellpose-model FILE]
     [--also KEY=VALUE ...]   (the defaults with these changes as a row of their own)
     [--frames DIR ...] [--no-shipped]   (your own annotated frames; only those)
"""

from __future__ import annotations

import argparse
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
# The parameters that decide objects without a nuclei channel; the grid the cross-validation chooses in
# spans both kinds of frames (seeds fine and low enough for crowded nuclei, coarse and high enough for
# spindle cells), so that a source's chosen parameters are its own; min_area_share, flat in the sweep,
# is left at its default.
SWEPT = ("smooth_sigma", "low", "high", "background_size", "seed_sigma", "seed_h", "min_area_share")
GRID = {
    "background_size": (151, 251, 351),
    "seed_sigma": (4.0, 8.0, 12.0),
    "seed_h": (2.5, 5.0, 10.0, 15.0),
    "high": (4.0, 8.0),
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


def frame_pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    """(frame, image file, mask file) for every annotated frame of ``folder``: ``images/`` beside
    ``masks/`` (masks named as their images, or the Cell Tracking Challenge's man_segNNN for tNNN), or a
    Cell Tracking Challenge sequence folder as downloaded, its masks in the sibling ``<name>_GT/SEG``."""
    if (folder / "images").is_dir() and (folder / "masks").is_dir():
        images, masks = folder / "images", folder / "masks"
    elif (folder.parent / f"{folder.name}_GT" / "SEG").is_dir():
        images, masks = folder, folder.parent / f"{folder.name}_GT" / "SEG"
    else:
        raise SystemExit(
            f"{folder}: no annotated frames found; expected images/ beside masks/, or a Cell Tracking "
            f"Challenge sequence with {folder.name}_GT/SEG beside it"
        )
    pairs = []
    for mask in sorted(masks.glob("*.tif*")):
        stem = mask.name.split(".")[0]
        names = ([stem.replace("man_seg", "t", 1)] if stem.startswith("man_seg") else []) + [stem]
        found = [images / f"{n}{ext}" for n in names for ext in (".tif", ".tiff", ".ome.tif", ".ome.tiff")]
        image = next((f for f in found if f.is_file()), None)
        if image is None:
            raise SystemExit(f"{mask}: no image for this mask in {images} (looked for {', '.join(names)})")
        pairs.append((image.name.split(".")[0], image, mask))
    if not pairs:
        raise SystemExit(f"{masks}: no .tif masks")
    return pairs


def read_frames(folder: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every annotated frame of ``folder`` as (frame, image, instance mask); one 2-D plane each."""
    frames = []
    for frame, image_file, mask_file in frame_pairs(folder):
        image, truth = tifffile.imread(image_file), tifffile.imread(mask_file)
        if image.ndim != 2 or image.shape != truth.shape:
            raise SystemExit(
                f"{image_file}: image {image.shape} and mask {truth.shape} are not one 2-D plane of the same "
                "size (pass the shape channel alone)"
            )
        frames.append((frame, image.astype(float), truth.astype(np.int32)))
    return frames


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


def load_sources(
    folders: tuple[Path, ...] = (), shipped: bool = True
) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """The shipped sources (where present) and a lab's own annotated folders, each a source of its own,
    its frames as they come (a lab's images are at the pixel size its config resamples to)."""
    sources = {}
    if shipped and DATA.is_dir():
        ctc = read_frames(DATA)
        sources = {"ctc_msc_01": ctc, "dsb2018": dsb_frames(median_area(ctc))}
    elif shipped:
        print(f"ctc_msc_01 and dsb2018 skipped: {DATA} is absent (dsb2018 is brought to its cell size)")
    for folder in folders:
        name = folder.resolve().name
        sources[name if name not in sources else f"{name}_{len(sources)}"] = read_frames(folder)
    sources = {name: frames for name, frames in sources.items() if frames}
    if not sources:
        raise SystemExit("no annotated frames to measure: pass --frames DIR (or run beside ../shared)")
    return sources


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
        if all(base[k] == v for k, v in changes.items()):
            continue  # the defaults themselves, already a candidate
        sets["grid " + ", ".join(f"{k}={v:g}" for k, v in changes.items())] = base | changes
    for name in SWEPT:
        for factor in FACTORS:
            if factor != 1.0:
                value = type(base[name])(base[name] * factor)
                if name == "background_size":
                    value = int(value) | 1  # an odd window
                sets[f"sweep {name} x{factor:g}"] = base | {name: value}
    return sets


def candidates(table: pd.DataFrame) -> list[str]:
    """The sets cross-validation chooses among: the grid's and the defaults."""
    return [s for s in table["set"].unique() if s.startswith("grid") or s == "defaults"]


def best_set(table: pd.DataFrame, sets: list[str]) -> str:
    """The set of ``sets`` that scores best on the frames in ``table`` (mean of SEG and object F1)."""
    scores = {s: summary(table[table["set"] == s]) for s in sets}
    return max(sets, key=lambda s: (scores[s]["SEG"] + scores[s]["F1"]) / 2)


def cross_validate(table: pd.DataFrame, folds: int) -> tuple[pd.DataFrame, dict]:
    """Per split: the grid's (and the defaults') set best on the other frames, scored on the held-out
    ones; and the measures pooled over every held-out frame."""
    frames = sorted(table["frame"].unique())
    sets = candidates(table)
    rows, chosen_rows = [], []
    for k in range(folds):
        test = frames[k::folds]
        best = best_set(table[~table["frame"].isin(test)], sets)
        held = table[(table["set"] == best) & table["frame"].isin(test)]
        chosen_rows.append(held)
        rows.append({"split": k + 1, "test frames": ",".join(test), "chosen": best, **summary(held)})
    return pd.DataFrame(rows), summary(pd.concat(chosen_rows))


def config_lines(params: dict) -> list[str]:
    """``params``' departures from the workflow's defaults, as lines for imaging.segmentation."""
    workflow = asdict(SegmentationParams())
    changed = {k: v for k, v in params.items() if k in workflow and k != "drop_border" and v != workflow[k]}
    if not changed:
        return ["imaging.segmentation: the defaults"]
    return ["imaging:", "  segmentation:"] + [f"    {k}: {v}" for k, v in changed.items()]


def report(
    source: str, table: pd.DataFrame, folds: int, sets: dict[str, dict], extra: tuple[str, ...] = ()
) -> None:
    """Everything printed for one source (``table``: its frames under every parameter set of ``sets``;
    ``extra``: the sets printed beside the baseline and the defaults)."""
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
    if frames < 2:
        print("\nNo cross-validation and no parameters chosen: it needs two annotated frames or more.")
    else:
        folds = min(folds, frames)
        splits, pooled = cross_validate(table, folds)
        print(f"\nFrame-level cross-validation ({folds} splits; parameters chosen on the others):")
        print(splits.round(3).to_string(index=False))
        print("pooled over held-out frames: " + ", ".join(f"{k} {v:.3g}" for k, v in pooled.items()))
        chosen = best_set(table, candidates(table))
        print(f"\nChosen on every frame of {source} ({chosen}); as configuration:")
        print("\n".join(config_lines(sets[chosen])))
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


def main(argv: list[str] | None = None) -> None:
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
    parser.add_argument(
        "--frames",
        nargs="*",
        default=[],
        type=Path,
        metavar="DIR",
        help="your own annotated frames, each folder a source: images/ beside masks/, or a Cell Tracking "
        "Challenge sequence folder as downloaded (masks in <name>_GT/SEG beside it)",
    )
    parser.add_argument(
        "--no-shipped", action="store_true", help="measure only the --frames folders, not the shipped sources"
    )
    args = parser.parse_args(argv)
    changes = dict(item.partition("=")[::2] for item in args.also)
    unknown = sorted(set(changes) - set(asdict(DEFAULTS)))
    if unknown:
        parser.error(f"--also: {', '.join(unknown)} not among {', '.join(asdict(DEFAULTS))}")
    sources = load_sources(tuple(args.frames), shipped=not args.no_shipped)
    sets = parameter_sets()
    if args.also:
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
        report(source, table[table["source"] == source], args.folds, sets, extra)


if __name__ == "__main__":
    main()
