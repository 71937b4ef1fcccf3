"""Simulate the demo RNA-seq count table and gene lengths (rule demo_rnaseq)."""

from pathlib import Path

import pandas as pd

from morphopotency.io.gmt import read_gmt
from morphopotency.rnaseq.markers import read_markers
from morphopotency.scriptlog import job_logger
from morphopotency.simulate import simulate_rnaseq, write_rnaseq

log = job_logger(snakemake.log[0], "demo_rnaseq")
demo = simulate_rnaseq(
    seed=snakemake.params.seed,
    samples=pd.DataFrame(snakemake.params.samples),
    fractions=snakemake.params.fractions,
    gene_sets=read_gmt(snakemake.input.gene_sets),
    n_genes=snakemake.params.n_genes,
    extra_genes=read_markers(snakemake.input.markers)["gene"].tolist(),
)
write_rnaseq(demo, snakemake.output.table, snakemake.output.lengths, Path(snakemake.output.genes).parent)
log.info("%d genes x %d samples; planted %s", len(demo.counts), demo.counts.shape[1] - 2, demo.planted_terms)
