"""GO enrichment of PC1 genes and the kappa term network (rule rnaseq_enrichment, Fig. 3F-G)."""

import pandas as pd

from morphopotency.io.gmt import read_gmt
from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.rnaseq import enrichment_bars, term_network_plot
from morphopotency.rnaseq.enrichment import enrich, filter_gene_sets, term_network
from morphopotency.rnaseq.expression import expressed
from morphopotency.rnaseq.symbols import named_genes
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_enrichment")
p = snakemake.params
rpkm, symbols = read_expression(snakemake.input.rpkm)
background = named_genes(symbols.loc[expressed(rpkm, p.expressed_rpkm)])
ranked = pd.read_csv(snakemake.input.pc1_genes, sep="\t", dtype={"gene": str, "symbol": str})
query = ranked.head(p.pc1_top_genes)["symbol"]
gene_sets = filter_gene_sets(read_gmt(snakemake.input.gene_sets), background, p.min_size, p.max_size)
table = enrich(query, gene_sets, background)
write_tsv(table, snakemake.output.table)
graph, groups = term_network(table, kappa_threshold=p.kappa, fdr=p.fdr)
write_tsv(groups, snakemake.output.network)
name = snakemake.wildcards.collection.upper()
save_figure(enrichment_bars(table, f"GO {name}: top {p.pc1_top_genes} PC1 genes"), snakemake.output.figure)
save_figure(
    term_network_plot(graph, groups, f"GO {name} terms (FDR <= {p.fdr}) linked at kappa >= {p.kappa}"),
    snakemake.output.network_figure,
)
log.info(
    "%d terms tested, %d at FDR <= %s, %d groups",
    len(table),
    int((table["fdr"] <= p.fdr).sum()),
    p.fdr,
    groups["group"].nunique(),
)
