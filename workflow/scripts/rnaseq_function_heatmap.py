"""Per-donor differentiated-vs-stem fold changes -> enrichment -> heat map of functions (Fig. 5D)."""

import pandas as pd

from morphopotency.io.gmt import read_gmt
from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.rnaseq import term_heatmap
from morphopotency.rnaseq.differentiation import donor_log2_fold_changes, paired_samples
from morphopotency.rnaseq.enrichment import donor_function_enrichment, filter_gene_sets, representative_terms
from morphopotency.rnaseq.expression import expressed
from morphopotency.rnaseq.symbols import named_genes
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_function_heatmap")
p = snakemake.params
samples = pd.DataFrame(p.samples)
rpkm, symbols = read_expression(snakemake.input.rpkm)
pairs = paired_samples(samples)
lfc = donor_log2_fold_changes(rpkm, pairs)
lfc.columns = [dict(zip(pairs["donor"], pairs["differentiated"]))[d] for d in lfc.columns]
write_tsv(lfc.rename_axis("gene_id"), snakemake.output.lfc, index=True)
background = named_genes(symbols.loc[expressed(rpkm, p.expressed_rpkm)])
gene_sets = filter_gene_sets(read_gmt(snakemake.input.gene_sets), background, p.min_size, p.max_size)
per_donor = donor_function_enrichment(lfc, symbols, gene_sets, background, p.lfc_threshold)
write_tsv(per_donor, snakemake.output.enrichment)
matrix = representative_terms(per_donor, p.n_terms, p.fdr)
write_tsv(matrix.rename_axis("term"), snakemake.output.matrix, index=True)
save_figure(
    term_heatmap(matrix, f"Functions up on differentiation (log2 FC >= {p.lfc_threshold})"),
    snakemake.output.figure,
)
log.info("%d donor pairs; %d representative terms", len(pairs), len(matrix))
