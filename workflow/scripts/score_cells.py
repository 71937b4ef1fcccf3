"""One donor's cells through the bundle's CNN and shape model (rule score_cells)."""

import anndata as ad
import numpy as np

from morphopotency.cnn.tensors import cpu_threads
from morphopotency.io.tables import write_tsv
from morphopotency.score.bundle import load
from morphopotency.score.cells import score_cells
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "score_cells")
cpu_threads(snakemake.threads)
adata = ad.read_h5ad(snakemake.input.cells)
crops = np.load(snakemake.input.crops, allow_pickle=False)
table = score_cells(
    adata.obs, adata.obsm["contour"], crops, load(snakemake.params.bundle), snakemake.params.device
)
write_tsv(table, snakemake.output.table)
log.info("donor %s: %d cells scored", snakemake.wildcards.donor, len(table))
