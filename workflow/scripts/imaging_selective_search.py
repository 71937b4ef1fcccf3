"""The paper's selective-search crops of one donor's images (rule imaging_selective_search_crops)."""

import numpy as np
import pandas as pd

from morphopotency.imaging.io import Channels, read_image
from morphopotency.imaging.resample import to_pixel_size
from morphopotency.imaging.selective_search import crop_boxes, selective_search_boxes
from morphopotency.io.atomic import atomic_path
from morphopotency.io.tables import write_tsv
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_selective_search")
p = snakemake.params
tables, crops = [], []
for image_id, spec in p.image_specs.items():
    image = read_image(
        spec,
        Channels(shape=p.channels["shape"], label=None, nuclei=None),
        z_projection=p.z_projection,
        bit_depth=p.bit_depth,
    )
    image = to_pixel_size(image, p.resample_um, p.pixel_size_um)
    boxes = selective_search_boxes(image.shape, min_area=p.min_area, max_area=p.max_area)
    tables.append(boxes.assign(donor=snakemake.wildcards.donor, image=image_id))
    crops.append(crop_boxes(image.shape, boxes, p.crop_size, image.max_value))
write_tsv(pd.concat(tables, ignore_index=True), snakemake.output.boxes)
with atomic_path(snakemake.output.crops) as tmp:
    with open(tmp, "wb") as fh:
        np.save(
            fh,
            np.concatenate(crops) if crops else np.zeros((0, p.crop_size, p.crop_size), np.uint8),
            allow_pickle=False,
        )
log.info("%d boxes from %d images", sum(len(t) for t in tables), len(tables))
