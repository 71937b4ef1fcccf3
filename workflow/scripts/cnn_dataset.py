"""Labelled crops and cross-validation splits for the CNN (rule cnn_dataset)."""

from pathlib import Path

from morphopotency.cnn import data
from morphopotency.cnn.splits import make_splits, split_groups
from morphopotency.io.tables import write_tsv
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_dataset")
p = snakemake.params
if p.data["source"] == "folder":
    cells = data.from_folder(p.data["folder"], p.data["positive_class"], p.data["side"])
    if not (Path(p.data["folder"]) / data.METADATA).is_file():
        log.warning(
            "%s has no %s: every file is its own image (its own group in the splits), and no per-donor "
            "fraction is computed",
            p.data["folder"],
            data.METADATA,
        )
else:
    cells = data.from_imaging(snakemake.input.cells, snakemake.input.crops, snakemake.input.labels)
splits = make_splits(cells.labels, split_groups(cells.cells, p.group_by), p.folds, p.val_fraction, p.seed)
data.save(cells, snakemake.output.crops, snakemake.output.cells)
write_tsv(splits, snakemake.output.splits)
sizes = splits.groupby(["fold", "role"]).size().unstack()
log.info(
    "%d cells (%d positive); grouped by %s; cells per fold and role:\n%s",
    len(cells.cells),
    int(cells.labels.sum()),
    p.group_by,
    sizes.to_string(),
)
