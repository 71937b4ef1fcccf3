"""Expression table -> RPKM (and the counts it came from) (rule rnaseq_expression)."""

import pandas as pd

from morphopotency.io.tables import write_expression, write_tsv
from morphopotency.rnaseq.expression import build_expression
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_expression")
inputs = snakemake.input
expr = build_expression(
    inputs.table,
    dict(snakemake.params.sample_columns),
    snakemake.params.values,
    gene_lengths=inputs.get("gene_lengths"),
    gtf=inputs.get("gtf"),
    id_column=snakemake.params.id_column,
    symbol_column=snakemake.params.symbol_column,
)
write_expression(expr.rpkm, expr.symbols, snakemake.output.rpkm)
counts = expr.counts if expr.counts is not None else expr.rpkm.iloc[:0]
write_expression(counts, expr.symbols, snakemake.output.counts)
write_tsv(pd.DataFrame({"gene_id": expr.dropped}), snakemake.output.dropped)
log.info(
    "%d genes x %d samples (%s input); %d genes without a length dropped",
    len(expr.rpkm),
    expr.rpkm.shape[1],
    snakemake.params.values,
    len(expr.dropped),
)
