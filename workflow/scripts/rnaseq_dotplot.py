"""Stemness and lineage marker dot plot (rule rnaseq_stemness_dotplot, paper Fig. 3B)."""

from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.rnaseq import marker_dotplot
from morphopotency.rnaseq.markers import marker_table, read_markers
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_dotplot")
rpkm, symbols = read_expression(snakemake.input.rpkm)
table = marker_table(rpkm[snakemake.params.samples], symbols, read_markers(snakemake.input.markers))
write_tsv(table, snakemake.output.table)
save_figure(marker_dotplot(table[table["present"]]), snakemake.output.figure)
log.info("markers absent from the table: %s", sorted(set(table.loc[~table["present"], "gene"])) or "none")
