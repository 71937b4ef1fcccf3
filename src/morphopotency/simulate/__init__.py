"""Demo cohort simulator: images and RNA-seq in the formats a real user brings, plus ground truth.

Everything is deterministic in the seed. The ground truth is written apart from the data so only tests
and the report's simulation check read it.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile

from morphopotency.io.atomic import atomic_path
from morphopotency.simulate.images import CHANNELS, PIXEL_SIZE_UM, Field, field_name, simulate_donor
from morphopotency.simulate.rnaseq import RnaseqDemo, simulate_rnaseq

__all__ = [
    "field_name",
    "planned_image_files",
    "simulate_donor",
    "simulate_rnaseq",
    "write_donor",
    "write_ome_tiff",
    "write_rnaseq",
]


def planned_image_files(image_dir: str | Path, donor: str, n_fields: int) -> list[Path]:
    """The files ``write_donor`` will make, known before it runs so Snakemake can plan per-image jobs."""
    return [Path(image_dir) / f"{field_name(donor, i)}.ome.tif" for i in range(n_fields)]


def write_ome_tiff(
    path: str | Path, image: np.ndarray, channel_names: tuple[str, ...], pixel_size_um: float, key: str
) -> None:
    """OME-TIFF with channel names and pixel size; the OME UUID derives from ``key`` so bytes are
    reproducible.
    """
    metadata = {
        "UUID": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'morphopotency:' + key)}",
        "axes": "CYX" if image.ndim == 3 else "YX",
        "PhysicalSizeX": pixel_size_um,
        "PhysicalSizeXUnit": "µm",
        "PhysicalSizeY": pixel_size_um,
        "PhysicalSizeYUnit": "µm",
    }
    if image.ndim == 3:
        metadata["Channel"] = {"Name": list(channel_names)}
    with atomic_path(path) as tmp:
        tifffile.imwrite(
            tmp, image, ome=True, compression="zlib", photometric="minisblack", metadata=metadata
        )


def write_donor(
    seed: int,
    donor: str,
    n_fields: int,
    size: int,
    cells_per_field: int,
    fraction: float,
    image_dir: str | Path,
    mask_dir: str | Path,
    truth_path: str | Path,
    channels: tuple[str, ...] = CHANNELS,
    blur: float = 1.0,
    pixel_size_um: float = PIXEL_SIZE_UM,
) -> pd.DataFrame:
    """Simulate and write one donor's fields, planted masks and per-cell truth; returns the truth table.

    ``channels``: those imaged (a donor to score, say, without SSEA3); ``blur``: the optics' sigma, px;
    ``pixel_size_um``: the pixel size imaged at (another objective), written to the files' metadata."""
    unknown = set(channels) - set(CHANNELS)
    if unknown or not channels:
        raise ValueError(f"channels {sorted(unknown)} are not among the simulated {CHANNELS}")
    keep = [CHANNELS.index(c) for c in channels]
    fields: list[tuple[str, Field]] = simulate_donor(
        seed, donor, n_fields, size, cells_per_field, fraction, blur, pixel_size_um
    )
    tables = []
    for name, field in fields:
        write_ome_tiff(
            Path(image_dir) / f"{name}.ome.tif",
            field.image[keep],
            tuple(channels),
            pixel_size_um,
            f"{seed}/{name}",
        )
        write_ome_tiff(
            Path(mask_dir) / f"{name}.ome.tif", field.labels, (), pixel_size_um, f"{seed}/{name}/mask"
        )
        table = field.cells.copy()
        table.insert(0, "image", name)
        table.insert(0, "donor", donor)
        tables.append(table)
    truth = pd.concat(tables, ignore_index=True)
    with atomic_path(truth_path) as tmp:
        truth.to_csv(tmp, sep="\t", index=False)
    return truth


def write_rnaseq(
    demo: RnaseqDemo, table_path: str | Path, lengths_path: str | Path, truth_dir: str | Path
) -> None:
    """GEO-style gzipped TSV of raw counts, a gene-length table, and the planted genes and terms."""
    with atomic_path(table_path) as tmp:
        # No name and mtime=0 in the gzip header keep the bytes identical across runs.
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
            fh.write(demo.counts.to_csv(sep="\t", index=False).encode("utf-8"))
    with atomic_path(lengths_path) as tmp:
        demo.lengths.to_csv(tmp, sep="\t", index=False)
    truth_dir = Path(truth_dir)
    with atomic_path(truth_dir / "planted_genes.tsv") as tmp:
        demo.truth.to_csv(tmp, sep="\t", index=False)
    with atomic_path(truth_dir / "planted_terms.json") as tmp:
        tmp.write_text(json.dumps(demo.planted_terms, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def donor_truth_summary(cell_truth: Mapping[str, pd.DataFrame], planted: Mapping[str, float]) -> pd.DataFrame:
    """Per donor: planted and realised multipotent fraction, cells planted, share of round cells."""
    rows = []
    for donor, cells in sorted(cell_truth.items()):
        rows.append(
            {
                "donor": donor,
                "planted_fraction": planted[donor],
                "n_cells": len(cells),
                "realised_fraction": float(cells["multipotent"].mean()) if len(cells) else float("nan"),
                "round_fraction": float((cells["shape_class"] == "round").mean())
                if len(cells)
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)
