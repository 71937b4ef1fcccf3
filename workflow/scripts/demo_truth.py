"""Per-donor planted vs realised multipotency of the demo cohort (rule demo_truth)."""

import pandas as pd

from morphopotency.io.atomic import atomic_path
from morphopotency.scriptlog import job_logger
from morphopotency.simulate import donor_truth_summary

log = job_logger(snakemake.log[0], "demo_truth")
cells = {d: pd.read_csv(p, sep="\t") for d, p in zip(snakemake.params.donors, snakemake.input.cells)}
summary = donor_truth_summary(cells, snakemake.params.fractions)
with atomic_path(snakemake.output.donors) as tmp:
    summary.to_csv(tmp, sep="\t", index=False)
log.info("\n%s", summary.to_string(index=False))
