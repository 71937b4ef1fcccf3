"""Pearson correlation between stem donors (rule rnaseq_correlation, paper Fig. 2A)."""

from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.rnaseq import correlation_heatmap
from morphopotency.rnaseq.correlation import pearson
from morphopotency.rnaseq.expression import log2p1
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_correlation")
rpkm, _ = read_expression(snakemake.input.rpkm)
values = rpkm[snakemake.params.samples]
scale = snakemake.wildcards.scale
corr = pearson(log2p1(values) if scale == "log2" else values)
write_tsv(corr.rename_axis("sample"), snakemake.output.table, index=True)
label = "log2(RPKM+1)" if scale == "log2" else "RPKM"
save_figure(correlation_heatmap(corr, f"Pearson r between stem donors on {label}"), snakemake.output.figure)
log.info("min off-diagonal r = %.4f", corr.where(~(corr == 1.0)).min().min())
