"""Every stage of the shape modes a user waits for, at 300 / 3,000 / 30,000 / 100,000 cells: contour
extraction, registration, the fit with its stability fits (on at most ``max_fit_cells`` cells, the rest
assigned), and assignment; peak memory and the growth exponent of each stage per tenfold more cells.

Baselines in the same run, on the same 300 cells:
- the reference's own clustering step alone, one 3-init scikit-learn K-means on our features (no
  stability), so the fit's cost over plain K-means is visible;
- the reference tool, ``vampire-analysis`` 0.0.1 (build + apply: sampling, registration, PCA, K-means,
  assignment; its plots and pickles left out), installed by this benchmark into a throw-away venv, or
  skipped with a message when it cannot be installed (``--no-vampire`` skips it). Both are timed on a
  first pass (with each library's one-time start-up) and a second (the steady cost).

Synthetic label images (ellipses and lobed outlines, 32 x 32 px each, 1,024 per 1024 x 1024 tile) stand
in for segmented fields. Memory is the process's peak resident set.
Run: .venv/bin/python bench/shape_modes.py [--max 100000] [--subsamples 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from skimage.draw import polygon

from morphopotency.imaging.cells import outer_contours
from morphopotency.imaging.shapes import fit_shape_modes, register, resample

TILE, CELL = 1024, 32
SIZES = (300, 3_000, 30_000, 100_000)

# Runs in the throw-away venv: vampire's own pipeline functions on the raw contours (x, y rows).
VAMPIRE_SCRIPT = """
import json, sys, time
import numpy as np
from vampire import analysis, processing
data = np.load(sys.argv[1], allow_pickle=False)
contours = np.split(data["points"], data["offsets"][1:-1])
contours = [c.T for c in contours]
k = int(sys.argv[2])
times = []
for _ in range(2):  # the first pass pays each library's one-time start-up, the second is the steady cost
    t0 = time.perf_counter()
    sampled = processing.sample_contours(contours, num_points=50)
    registered, mean_registered = processing.register_contours(sampled)
    aligned, mean_aligned = processing.align_contours(registered, mean_registered)
    directions, components = analysis.pca_contours(aligned)
    frame, centroids = analysis.cluster_contours(
        components, aligned, num_clusters=k, num_pc=20, random_state=0
    )
    t1 = time.perf_counter()
    sampled = processing.sample_contours(contours, num_points=50)
    registered, _ = processing.register_contours(sampled)
    aligned, _ = processing.align_contours(registered, mean_registered)
    components = analysis.pca_transform_contours(aligned, mean_aligned, directions)
    analysis.assign_clusters_id(components, aligned, centroids, num_pc=20)
    times.append({"build": t1 - t0, "apply": time.perf_counter() - t1})
print(json.dumps(times))
"""


def tile(rng: np.random.Generator) -> np.ndarray:
    labels = np.zeros((TILE, TILE), dtype=np.int32)
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    n = 0
    for r in range(TILE // CELL):
        for c in range(TILE // CELL):
            n += 1
            a, b = rng.uniform(5, 14), rng.uniform(3, 8)
            lobes = 1 + rng.uniform(0, 0.3) * np.cos(rng.integers(2, 5) * t)
            angle = rng.uniform(0, np.pi)
            x, y = a * lobes * np.cos(t), b * lobes * np.sin(t)
            rr = r * CELL + CELL / 2 + np.sin(angle) * x + np.cos(angle) * y
            cc = c * CELL + CELL / 2 + np.cos(angle) * x - np.sin(angle) * y
            pr, pc = polygon(rr, cc, labels.shape)
            labels[pr, pc] = n
    return labels


def raw_contours(tiles: list[np.ndarray], n: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    while len(out) < n:
        labels = tiles[(len(out) // (TILE // CELL) ** 2) % len(tiles)]
        out += outer_contours(labels, np.unique(labels)[1:])
    return out[:n]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_kmeans_seconds(outlines: np.ndarray, model, k: int) -> float:
    """One 3-init scikit-learn K-means (the reference's clustering) on the fit's own features."""
    from sklearn.cluster import KMeans

    features = model.features(register(outlines, model.reference)[0])
    start = time.perf_counter()
    KMeans(k, n_init=3, random_state=0).fit(features)
    return time.perf_counter() - start


def vampire_seconds(contours: list[np.ndarray], k: int) -> dict | str:
    """vampire-analysis build + apply in a throw-away venv, or why it was skipped."""
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
        python = venv / "bin" / "python"
        install = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "vampire-analysis==0.0.1",
                "opencv-python-headless",
            ],
            capture_output=True,
            text=True,
        )
        if made.returncode or install.returncode:
            return f"skipped: could not install vampire-analysis ({(made.stderr + install.stderr)[-300:]})"
        xy = [np.asarray(c)[:, ::-1] for c in contours]  # (row, col) -> (x, y)
        offsets = np.cumsum([0, *map(len, xy)])
        np.savez(Path(tmp) / "contours.npz", points=np.concatenate(xy), offsets=offsets)
        (Path(tmp) / "run.py").write_text(VAMPIRE_SCRIPT)
        run = subprocess.run(
            [str(python), str(Path(tmp) / "run.py"), str(Path(tmp) / "contours.npz"), str(k)],
            capture_output=True,
            text=True,
        )
        if run.returncode:
            return f"skipped: vampire-analysis failed ({run.stderr[-300:]})"
        return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument(
        "--subsamples", type=int, default=5, help="partitions compared for stability (the default's)"
    )
    parser.add_argument("--no-vampire", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tiles = [tile(rng) for _ in range(4)]
    rows = []
    for n in [s for s in SIZES if s <= args.max]:
        t0 = time.perf_counter()
        contours = raw_contours(tiles, n)
        outlines = np.stack([resample(c, 50) for c in contours])
        t1 = time.perf_counter()
        register(outlines)
        t2 = time.perf_counter()
        model = fit_shape_modes(outlines, k=args.k, stability_subsamples=args.subsamples)
        t3 = time.perf_counter()
        modes = model.assign(outlines)
        t4 = time.perf_counter()
        row = {
            "cells": n,
            "contours": t1 - t0,
            "register": t2 - t1,
            "fit": t3 - t2,
            "assign": t4 - t3,
            "peak_mb": peak_mb(),
            "ari": float(np.median(model.stability_ari)),
            "modes": len(set(modes)),
        }
        rows.append(row)
        print(
            f"{n:>7} cells: contours {row['contours']:7.2f} s  register {row['register']:6.2f} s  "
            f"fit+stability {row['fit']:7.2f} s (median ARI {row['ari']:.3f})  "
            f"assign {row['assign']:6.2f} s  "
            f"peak RSS {row['peak_mb']:7.0f} MB",
            flush=True,
        )
        if n == SIZES[0]:
            # The first fit above paid the libraries' one-time start-up (scikit-learn's input checks
            # discover dataframe plugins on first use, its K-means inspects the thread pools): time a
            # second one, as the vampire-analysis run below times its second pass beside its first.
            t5 = time.perf_counter()
            fit_shape_modes(outlines, k=args.k, stability_subsamples=args.subsamples).assign(outlines)
            ours, ours_cold = time.perf_counter() - t5, row["fit"] + row["assign"]
            plain = plain_kmeans_seconds(outlines, model, args.k)
            print(f"  baseline, one 3-init scikit-learn K-means on the same features: {plain:.3f} s")
            if not args.no_vampire:
                vampire = vampire_seconds(contours, args.k)
                if isinstance(vampire, str):
                    print(f"  vampire-analysis 0.0.1: {vampire}")
                else:
                    for label, run, mine in (("first", vampire[0], ours_cold), ("second", vampire[1], ours)):
                        theirs = run["build"] + run["apply"]
                        print(
                            f"  vampire-analysis 0.0.1, {label} pass: build {run['build']:.3f} s + apply "
                            f"{run['apply']:.3f} s (one 3-init K-means, no stability); ours (fit + "
                            f"{args.subsamples - 1} stability fits + assign) {mine:.3f} s: "
                            f"x{theirs / mine:.1f} faster"
                        )
    stages = ("contours", "register", "fit", "assign")
    for a, b in zip(rows, rows[1:]):
        growth = {s: np.log(b[s] / a[s]) / np.log(b["cells"] / a["cells"]) for s in stages if a[s] > 0}
        print(
            f"x{b['cells'] // a['cells']} cells: growth exponent "
            + ", ".join(f"{s} {g:.2f}" for s, g in growth.items())
            + " (1.0 = linear; the fit is on at most max_fit_cells), memory "
            + f"x{b['peak_mb'] / a['peak_mb']:.1f}"
        )


if __name__ == "__main__":
    main()
