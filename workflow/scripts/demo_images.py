"""Simulate one demo donor's fields of view (rule demo_images)."""

from pathlib import Path

from morphopotency.scriptlog import job_logger
from morphopotency.simulate import write_donor

log = job_logger(snakemake.log[0], "demo_images")
truth = write_donor(
    seed=snakemake.params.seed,
    donor=snakemake.wildcards.donor,
    n_fields=snakemake.params.fields,
    size=snakemake.params.size,
    cells_per_field=snakemake.params.cells,
    fraction=snakemake.params.fraction,
    image_dir=Path(snakemake.output.images[0]).parent,
    mask_dir=Path(snakemake.output.masks[0]).parent,
    truth_path=snakemake.output.truth,
    channels=tuple(snakemake.params.channels),
    blur=snakemake.params.blur,
    pixel_size_um=snakemake.params.pixel_size_um,
)
log.info(
    "donor %s: %d cells in %d fields, multipotent fraction %.3f, channels %s, blur %.1f px, %.3g um pixels",
    snakemake.wildcards.donor,
    len(truth),
    snakemake.params.fields,
    truth["multipotent"].mean(),
    ", ".join(snakemake.params.channels),
    snakemake.params.blur,
    snakemake.params.pixel_size_um,
)
