"""PCAtools plotloadings: genes at either end of each PC's loading range (rule plotloadings, Fig. 3E)."""

import pandas as pd

from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.rnaseq import loadings_plot
from morphopotency.rnaseq.pca import retained_loadings
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "plotloadings")
loadings = pd.read_csv(snakemake.input.loadings, sep="\t", index_col="gene_id")
_, symbols = read_expression(snakemake.input.rpkm)
components = list(
    loadings.columns[: min(4, loadings.shape[1] - 1 if loadings.shape[1] > 2 else loadings.shape[1])]
)
genes = retained_loadings(loadings, components, snakemake.params.range_retain)
long = (
    loadings.loc[genes, components]
    .rename_axis("gene")
    .reset_index()
    .melt(id_vars="gene", var_name="PC", value_name="loading")
)
long.insert(1, "symbol", symbols.reindex(long["gene"]).to_numpy())
write_tsv(long, snakemake.output.table)
save_figure(loadings_plot(long), snakemake.output.figure)
log.info("%d genes retained over %s", len(genes), components)
