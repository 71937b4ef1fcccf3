"""Per-cell table (AnnData) and crops of one donor (rule imaging_cells)."""

import numpy as np

from morphopotency.imaging.donor import donor_cells
from morphopotency.imaging.io import Channels
from morphopotency.imaging.segmented_by import Segmentation, annotate, resolved
from morphopotency.io.atomic import atomic_path
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_cells")
p = snakemake.params
images = {image: (spec, label) for (image, spec), label in zip(p.image_specs.items(), snakemake.input.labels)}
adata, crops = donor_cells(
    snakemake.wildcards.donor,
    images,
    Channels(**p.channels),
    crop_size=p.crop_size,
    n_points=p.n_points,
    bit_depth=p.bit_depth,
    z_projection=p.z_projection,
    pixel_size_um=p.pixel_size_um,
    crop_window=p.crop_window,
    resample_um=p.resample_um,
    ssea3_region=p.ssea3_region,
)
segmentation = resolved(Segmentation(**p.segmentation), snakemake.input.labels)
adata.obs = annotate(adata.obs, segmentation)
with atomic_path(snakemake.output.cells) as tmp:
    adata.write_h5ad(tmp)
with atomic_path(snakemake.output.crops) as tmp:
    with open(tmp, "wb") as fh:
        np.save(fh, crops, allow_pickle=False)
log.info(
    "donor %s: %d cells from %d images, segmented by %s",
    snakemake.wildcards.donor,
    adata.n_obs,
    len(images),
    segmentation.describe(),
)
