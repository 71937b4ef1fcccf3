"""PCA and correlation of stem and differentiated samples (rule rnaseq_differentiation_overview, Fig.
5B-C).
"""

import pandas as pd

from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.rnaseq import biplot, correlation_heatmap
from morphopotency.rnaseq.correlation import pearson
from morphopotency.rnaseq.expression import log2p1
from morphopotency.rnaseq.pca import pcatools_pca
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_differentiation_overview")
p = snakemake.params
samples = pd.DataFrame(p.samples)
rpkm, symbols = read_expression(snakemake.input.rpkm)
rpkm = rpkm[list(samples["sample"])]
mat = log2p1(rpkm) if p.input == "log2" else rpkm
result = pcatools_pca(mat, remove_var=p.remove_var, scale=p.scale)
write_tsv(result.scores.rename_axis("sample"), snakemake.output.scores, index=True)
write_tsv(
    pd.DataFrame(
        {"PC": result.variance_percent.index, "variance_percent": result.variance_percent.to_numpy()}
    ),
    snakemake.output.variance,
)
condition = samples.set_index("sample")["condition"]
save_figure(
    biplot(result.scores, result.loadings, result.variance_percent, symbols, groups=condition),
    snakemake.output.figure,
)
corr = pearson(rpkm)
write_tsv(corr.rename_axis("sample"), snakemake.output.corr, index=True)
save_figure(
    correlation_heatmap(corr, "Pearson r on RPKM, stem and differentiated"), snakemake.output.corr_figure
)
log.info("PC1 %.1f %%, PC2 %.1f %%", result.variance_percent.iloc[0], result.variance_percent.iloc[1])
