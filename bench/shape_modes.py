"""Throughput of contour extraction + registration + shape-mode assignment at 1,000 / 10,000 / 100,000 cells.

Synthetic label images (ellipses and lobed outlines, 32 x 32 px each, 1,024 per 1024 x 1024 tile) stand in
for segmented fields. Prints cells per second, peak traced memory, and the growth of time and memory per
tenfold more cells (1.0 = linear). Memory is the process's peak resident set (tracemalloc would triple the
run time of this allocation-heavy loop). Run: .venv/bin/python bench/shape_modes.py [--max 100000]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from skimage.draw import polygon

from morphopotency.imaging.cells import outer_contours
from morphopotency.imaging.shapes import fit_shape_modes, resample

TILE, CELL = 1024, 32


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


def extract(labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels)[1:]
    return np.stack([resample(c, 50) for c in outer_contours(labels, ids)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tiles = [tile(rng) for _ in range(3)]
    model = fit_shape_modes(extract(tiles[0]), k=20, runs=200, stability_seeds=2)
    rows = []
    n = 1000
    while n <= args.max:
        per_tile = (TILE // CELL) ** 2
        t0 = time.perf_counter()
        outlines, done = [], 0
        while done < n:
            batch = extract(tiles[(done // per_tile) % len(tiles)])[: n - done]
            outlines.append(batch)
            done += len(batch)
        modes = model.assign(np.concatenate(outlines))
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rows.append((n, seconds, peak))
        print(
            f"{n:>7} cells: {n / seconds:8.0f} cells/s   {seconds:7.2f} s   peak RSS {peak / 1e6:7.1f} "
            f"MB   modes used {len(set(modes))}",
            flush=True,
        )
        n *= 10
    for (n0, t0, m0), (n1, t1, m1) in zip(rows, rows[1:]):
        print(
            f"x{n1 // n0} cells: time x{t1 / t0:.1f} (growth exponent "
            f"{np.log(t1 / t0) / np.log(n1 / n0):.2f}), memory x{m1 / m0:.1f}"
        )


if __name__ == "__main__":
    main()
