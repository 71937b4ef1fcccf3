"""PCAtools-style PCA of the stem donors with scree, Horn's analysis and bi-plot (rule rnaseq_pca,
Fig. 3C-E).
"""

import pandas as pd

from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.rnaseq import biplot, scree
from morphopotency.rnaseq.expression import log2p1
from morphopotency.rnaseq.pca import find_elbow, parallel_pca, pcatools_pca, ranked_pc_genes
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_pca")
p = snakemake.params
rpkm, symbols = read_expression(snakemake.input.rpkm)
mat = rpkm[p.samples]
if p.input == "log2":
    mat = log2p1(mat)
result = pcatools_pca(mat, remove_var=p.remove_var, scale=p.scale)
elbow = find_elbow(result.variance_percent)
horn = parallel_pca(
    mat,
    iterations=p.parallel_iterations,
    threshold=p.parallel_threshold,
    remove_var=p.remove_var,
    scale=p.scale,
    seed=p.seed,
)

write_tsv(
    pd.DataFrame(
        {
            "PC": result.variance_percent.index,
            "variance_percent": result.variance_percent.to_numpy(),
            "sdev": result.sdev.to_numpy(),
        }
    ),
    snakemake.output.variance,
)
write_tsv(result.scores.rename_axis("sample"), snakemake.output.scores, index=True)
write_tsv(result.loadings.rename_axis("gene_id"), snakemake.output.loadings, index=True)
write_tsv(ranked_pc_genes(result.loadings, symbols, "PC1"), snakemake.output.pc1_genes)
write_tsv(
    pd.DataFrame(
        {
            "PC": result.variance_percent.index,
            "variance_percent": result.variance_percent.to_numpy(),
            "permuted_mean": horn.permuted.mean(axis=0),
            "proportion_permuted_ge": horn.proportion,
            "elbow": [i + 1 == elbow for i in range(len(result.variance_percent))],
            "retained_by_horn": [i < horn.n for i in range(len(result.variance_percent))],
        }
    ),
    snakemake.output.parallel,
)
save_figure(scree(result.variance_percent, elbow, horn.n), snakemake.output.scree)
save_figure(biplot(result.scores, result.loadings, result.variance_percent, symbols), snakemake.output.biplot)
log.info(
    "removeVar=%s removed %d genes; variance %% %s; elbow PC%d; Horn retains %d",
    p.remove_var,
    result.removed,
    result.variance_percent.round(2).to_dict(),
    elbow,
    horn.n,
)
