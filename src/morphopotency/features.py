"""The per-cell columns every stage agrees on: the CNN's data, the shape-feature baseline, the model
bundle's reference cells and a scoring run's new cells. Below all of them, so none imports another for
a name."""

from __future__ import annotations

SHAPE_FEATURES = ("area", "perimeter", "circularity", "aspect_ratio", "solidity", "eccentricity")
# Image and segmentation quality, kept with the cells so a model bundle carries the reference's values.
QC_FEATURES = (
    "pixel_size_um",
    "imaged_pixel_size_um",
    "image_focus",
    "image_saturated",
    "image_unevenness",
    "touches_border",
)
# How the field's border sampled each cell (imaging.cells.edge_weights): the cross-fitted estimate weights
# the reference's and a lot's cells by it, so lots imaged over other field sizes read the same.
SAMPLING_FEATURES = ("edge_weight",)
# What cut each cell out of its image (imaging.segmented_by): the workflow's segmenter or the lab's masks,
# and the tool. The bundle keeps its reference's; a lot cut otherwise is held.
SEGMENTATION_COLUMNS = ("segmented_by", "segmentation_tool")
# Every per-cell column the CNN's cell table, the bundle's reference cells and a lot's scored cells carry.
CELL_COLUMNS = (*SHAPE_FEATURES, *QC_FEATURES, *SAMPLING_FEATURES, *SEGMENTATION_COLUMNS)
