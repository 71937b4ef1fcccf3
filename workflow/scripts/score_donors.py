"""Per-donor fractions, intervals, flags and verdicts of a scoring run (rule score_donors)."""

import pandas as pd

from morphopotency.io.tables import write_tsv
from morphopotency.plots import save_figure
from morphopotency.plots.score import donor_scores_figure, shape_modes_figure
from morphopotency.prevalence import CROSS_FITTED
from morphopotency.score.bundle import REFERENCE_MODES, bundle_estimator, load
from morphopotency.score.donors import (
    bundle_reference,
    donor_scores,
    precision_guide,
    precision_parts,
    shape_mode_profile,
    validation,
)
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "score_donors")
bundle = load(snakemake.params.bundle)
cells = pd.concat(
    [pd.read_csv(f, sep="\t", dtype={"donor": str, "image": str}) for f in snakemake.input.cells],
    ignore_index=True,
)
scores = donor_scores(cells, bundle, snakemake.params.score)
# The demo knows each simulated donor's true fraction; a lab's run compares only where SSEA3 was imaged.
planted = None
for path in snakemake.input.truth:
    truth = pd.read_csv(path, sep="\t", dtype={"donor": str})
    planted = dict(zip(truth["donor"], truth["realised_fraction"]))
reference = bundle.table("reference/donors.tsv")
write_tsv(scores, snakemake.output.scores)
write_tsv(validation(scores, planted), snakemake.output.validation)
method, _ = bundle_estimator(bundle, snakemake.params.score)
# pacc_cross: each lot's own variance split into its parts; else the cells needed at several fractions.
precision = (
    precision_parts(scores) if method == CROSS_FITTED else precision_guide(bundle_reference(bundle), method)
)
write_tsv(precision, snakemake.output.precision)
modes = shape_mode_profile(cells, bundle)
write_tsv(modes, snakemake.output.modes)
save_figure(shape_modes_figure(modes, bundle.optional_table(REFERENCE_MODES)), snakemake.output.modes_figure)
save_figure(
    donor_scores_figure(scores, reference, snakemake.params.score["accept_at_least"]), snakemake.output.figure
)
log.info("donor scores:\n%s", scores.to_string())
