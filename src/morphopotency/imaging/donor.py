"""One donor's cells: measurements, outlines and crops from its images and label images, as AnnData."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from morphopotency.imaging.cells import SSEA3_REGIONS, crop_cells, measure_cells, outer_contours, to_8bit
from morphopotency.imaging.io import Channels, read_image, read_mask
from morphopotency.imaging.quality import image_quality
from morphopotency.imaging.resample import labels_to_shape, to_pixel_size
from morphopotency.imaging.shapes import resample


def donor_cells(
    donor: str,
    images: Mapping[str, tuple[str | Path | Mapping[str, str | Path], str | Path]],
    channels: Channels,
    crop_size: int = 128,
    n_points: int = 50,
    bit_depth: int | None = None,
    z_projection: str = "max",
    pixel_size_um: float | None = None,
    crop_window: int | None = None,
    resample_um: float | None = None,
    ssea3_region: str = "whole",
) -> tuple[ad.AnnData, np.ndarray]:
    """AnnData (obs = cells, obsm['contour'] = n_points x 2 outline in pixels) and uint8 crops (cells, s, s).

    With ``resample_um`` every image is first brought to that pixel size (as imaging_segment does), and
    its label image too when drawn on the stored image (a lab's own masks). ``ssea3_8bit``, what labels a
    cell, is its SSEA3 mean over ``ssea3_region`` (imaging.cells.SSEA3_REGIONS).
    An image with no cells adds nothing: a donor whose images are all empty gets zero rows, not an error.
    """
    tables, crops, outlines = [], [], []
    for image_id, (image_path, label_path) in images.items():
        stored = read_image(image_path, channels, z_projection=z_projection, bit_depth=bit_depth)
        image = to_pixel_size(stored, resample_um, pixel_size_um)
        # A lab's own mask is drawn on the stored image: resampled with it.
        labels = labels_to_shape(
            read_mask(label_path, image.shape.shape, stored.shape.shape), image.shape.shape
        )
        if labels.max() == 0:
            continue
        table = measure_cells(image, labels, donor, image_id)
        contours = [resample(c, n_points) for c in outer_contours(labels, table["cell_id"].to_numpy())]
        usable = np.array([c is not None for c in contours])
        table = table[usable].reset_index(drop=True)
        if "label_mean" in table:
            table["ssea3_8bit"] = to_8bit(table[SSEA3_REGIONS[ssea3_region]], image.max_value)
        # The metadata's pixel size wins; the configured one fills in when the file has none. Shapes are
        # measured at pixel_size_um; imaged_pixel_size_um is the file's, before any resampling.
        table["pixel_size_um"] = image.pixel_size_um or pixel_size_um or np.nan
        table["imaged_pixel_size_um"] = stored.pixel_size_um or pixel_size_um or np.nan
        for key, value in image_quality(image.shape, image.max_value, labels > 0).items():
            table[key] = value
        tables.append(table)
        outlines.extend(c for c in contours if c is not None)
        crops.append(
            crop_cells(
                image.shape, labels, table["cell_id"].to_numpy(), crop_size, image.max_value, crop_window
            )
        )
    obs = (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame({"donor": [], "image": [], "cell_id": []})
    )
    obs.index = (
        [f"{donor}:{r.image}:{int(r.cell_id)}" for r in obs.itertuples()]
        if len(obs)
        else pd.Index([], dtype=str)
    )
    adata = ad.AnnData(obs=obs)
    adata.obsm["contour"] = np.stack(outlines) if outlines else np.zeros((0, n_points, 2))
    stacked = np.concatenate(crops) if crops else np.zeros((0, crop_size, crop_size), dtype=np.uint8)
    return adata, stacked
