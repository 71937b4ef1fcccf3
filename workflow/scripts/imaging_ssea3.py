"""SSEA3 labels per cell and the SSEA3-positive fraction per donor (rule imaging_ssea3)."""

import anndata as ad
import pandas as pd

from morphopotency.imaging.cells import donor_fractions, ssea3_threshold
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.imaging import ssea3_histograms
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "imaging_ssea3")
cells = pd.concat([ad.read_h5ad(p).obs for p in snakemake.input.cells], ignore_index=True)
if "ssea3_8bit" not in cells:
    raise ValueError("no SSEA3 channel (imaging.channels.label is null): labels cannot be made")
threshold = ssea3_threshold(cells["ssea3_8bit"].to_numpy(), snakemake.params.threshold)
cells["multipotent"] = cells["ssea3_8bit"] > threshold
write_tsv(cells[["donor", "image", "cell_id", "ssea3_8bit", "multipotent"]], snakemake.output.labels)
fraction = donor_fractions(cells, list(snakemake.params.donors), threshold)
write_tsv(fraction, snakemake.output.fraction)
save_figure(ssea3_histograms(cells, threshold), snakemake.output.figure)
log.info(
    "threshold %.1f; fractions %s",
    threshold,
    dict(zip(fraction["donor"], fraction["ssea3_positive_fraction"].round(3))),
)
