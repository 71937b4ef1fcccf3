"""The imaging branch: image ingest, segmentation, single cells, SSEA3 labels, shape modes."""
