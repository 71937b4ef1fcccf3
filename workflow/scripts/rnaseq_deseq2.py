"""Differentiated vs stem with pydeseq2, design ~ donor + condition (rule rnaseq_deseq2)."""

import pandas as pd

from morphopotency.io.tables import read_expression, write_tsv
from morphopotency.rnaseq.differentiation import deseq2
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "rnaseq_deseq2")
samples = pd.DataFrame(snakemake.params.samples)
counts, symbols = read_expression(snakemake.input.counts)
table = deseq2(
    counts[list(samples["sample"])],
    samples,
    alpha=snakemake.params.alpha,
    min_total_count=snakemake.params.min_count,
    n_cpus=snakemake.threads,
)
table.insert(0, "symbol", symbols.reindex(table.index).to_numpy())
write_tsv(table, snakemake.output.table, index=True)
log.info(
    "%d genes tested; %d with padj < %s",
    len(table),
    int((table["padj"] < snakemake.params.alpha).sum()),
    snakemake.params.alpha,
)
