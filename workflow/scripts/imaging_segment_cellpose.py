"""Segment one image with the run's Cellpose model, with a QC overlay (rule imaging_segment_cellpose)."""

import numpy as np
import tifffile
from PIL import Image as PILImage

from morphopotency.imaging.io import Channels, read_image
from morphopotency.imaging.learned import CellposeParams, segment_cellpose
from morphopotency.imaging.resample import to_pixel_size
from morphopotency.imaging.segment import SegmentationParams
from morphopotency.io.atomic import atomic_path
from morphopotency.plots.imaging import overlay
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_segment_cellpose")
p = snakemake.params
image = read_image(p.image, Channels(**p.channels), z_projection=p.z_projection, bit_depth=p.bit_depth)
image = to_pixel_size(image, p.resample_um, p.pixel_size_um)
labels = segment_cellpose(
    image.shape,
    image.nuclei,
    snakemake.input.model,
    CellposeParams(**p.cellpose),
    SegmentationParams(**p.segmentation),
)
with atomic_path(snakemake.output.labels) as tmp:
    tifffile.imwrite(tmp, labels.astype(np.uint32 if labels.max() > 65535 else np.uint16), compression="zlib")
with atomic_path(snakemake.output.overlay) as tmp:
    PILImage.fromarray(overlay(image.shape, labels)).save(tmp, format="PNG")
log.info("%s: %d cells (Cellpose)", p.image, int(labels.max()))
