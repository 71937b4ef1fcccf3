"""Leave-one-donor-out validation of the donor fractions (rule cnn_lodo_summary)."""

import pandas as pd

from morphopotency.cnn.lodo import donor_shift, lodo_fractions, lodo_validation, prevalence_sweep
from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.cnn import lodo_figure
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_lodo_summary")
predictions = pd.concat(
    [pd.read_csv(f, sep="\t", dtype={"donor": str, "image": str, "held_out": str}) for f in snakemake.input],
    ignore_index=True,
)
fractions = lodo_fractions(predictions, n_boot=snakemake.params.bootstrap, seed=snakemake.params.seed)
sweep = prevalence_sweep(predictions, seed=snakemake.params.seed)
validation = lodo_validation(fractions, sweep)
write_tsv(fractions, snakemake.output.fractions)
write_tsv(sweep, snakemake.output.sweep)
write_tsv(donor_shift(predictions).to_table(), snakemake.output.shift)
write_tsv(validation, snakemake.output.validation)
save_figure(lodo_figure(fractions, sweep), snakemake.output.figure)
log.info("leave-one-donor-out validation:\n%s", validation.to_string())
