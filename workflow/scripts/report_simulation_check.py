"""Demo: recovered vs planted per-donor multipotency (rule report_simulation_check)."""

import pandas as pd

from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.report import simulation_check as check_figure
from morphopotency.report.simulation import simulation_check
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "report_simulation_check")
truth = pd.read_csv(snakemake.input.truth, sep="\t", dtype={"donor": str})
summary = pd.read_csv(snakemake.input.summary, sep="\t", dtype={"donor": str})
check = simulation_check(truth, summary)
write_tsv(check, snakemake.output.table)
save_figure(check_figure(check), snakemake.output.figure)
log.info("simulation check:\n%s", check.to_string())
