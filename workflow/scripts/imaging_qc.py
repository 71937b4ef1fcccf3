"""Per-image quality of every imaged donor, with flags (rule imaging_qc)."""

import anndata as ad
import pandas as pd

from morphopotency.imaging.quality import image_qc_table
from morphopotency.io.tables import write_tsv
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_qc")
cells = pd.concat([ad.read_h5ad(p).obs for p in snakemake.input.cells], ignore_index=True)
table = image_qc_table(cells, snakemake.params.qc)
write_tsv(table, snakemake.output.table)
log.info("%d images, %d flagged", len(table), int((table["flags"] != "").sum()))
