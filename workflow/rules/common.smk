# The run plan (morphopotency.plan) decides what the config and sample sheet mean before any job runs:
# validation, samples, images, targets and report sections. This file builds it and holds the input
# functions the rules call; the rules find the morphopotency library as an installed package.

import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from morphopotency.config import ConfigError
from morphopotency.jobs import by_attempt, segmentation_mem_mb
from morphopotency.plan import build
from morphopotency.report.pdf import find_browser
from morphopotency.report.registry import report_args
from morphopotency.report.study import study_files
from morphopotency.score.bundle import folder_of as bundle_folder

# This workflow's own folder, also when it runs as a module of a user's workflow (workflow.basedir is
# then the user's): the schemas, shipped resources and report captions live here.
WORKFLOW_DIR = str(Path(str(workflow.current_basedir)).parents[1])

try:
    PLAN = build(config, WORKFLOW_DIR, cache_dir=".snakemake/morphopotency", browser=find_browser())
except ConfigError as error:
    raise WorkflowError(str(error)) from None  # a plain message, not a Python traceback
for note in PLAN.notes:
    print(f"morphopotency: {note}", file=sys.stderr)

# Where per-rule conda envs install the library from (envs/*.post-deploy.sh); read only when an env is made.
if (Path(WORKFLOW_DIR) / "pyproject.toml").is_file():
    os.environ.setdefault("MORPHOPOTENCY_SOURCE", WORKFLOW_DIR)

C = PLAN.config
# Report captions read snakemake.config: they see the defaults too, as with set_default in Snakemake.
config.update(C)
CNN = C["cnn"]
CNN_DIR = "results/cnn"
CNN_DATA = {
    "crops": f"{CNN_DIR}/data/crops.npy",
    "cells": f"{CNN_DIR}/data/cells.tsv",
    "splits": f"{CNN_DIR}/data/splits.tsv",
}
REPORT_DIR = "results/report"
PROVENANCE_INPUTS = "results/provenance/inputs.tsv"
ID = "[A-Za-z0-9_-]+"


wildcard_constraints:
    donor=ID,
    sample=ID,
    image=ID,


def reported(path):
    """An output flagged for `snakemake --report` as the registry files it (caption, category)."""
    return report(path, **report_args(path))


def image_spec(donor, image):
    """A file, or channel -> file when each channel is saved apart (imaging.channel_pattern)."""
    return PLAN.images[donor][image]


def donor_image_specs(wildcards):
    return {i: image_spec(wildcards.donor, i) for i in sorted(PLAN.images[wildcards.donor])}


def image_path(wildcards):
    return PLAN.image_files(wildcards.donor, wildcards.image)


def cellpose_model_file(wildcards):
    return PLAN.cellpose_model_input()


def donor_images(wildcards):
    ids = sorted(PLAN.images[wildcards.donor])
    return {
        "images": [f for i in ids for f in PLAN.image_files(wildcards.donor, i)],
        "labels": [PLAN.label_image(wildcards.donor, i) for i in ids],
    }


def cnn_weight_inputs(wildcards=None):
    """Every backbone's weights file: the comparison picks the final backbone only at run time."""
    return PLAN.weights_files()


def cnn_fold_weights(wildcards):
    return PLAN.weights_files(wildcards.backbone)


def cnn_dataset_inputs(wildcards):
    if CNN["data"]["source"] == "folder":  # every crop and metadata.tsv: a changed one re-runs training
        return {"folder": PLAN.provenance_inputs()["cnn_folder"]}
    donors = PLAN.reference_donors
    return {
        "cells": [f"results/imaging/cells/{d}.h5ad" for d in donors],
        "crops": [f"results/imaging/crops/{d}.npy" for d in donors],
        "labels": "results/imaging/ssea3_labels.tsv",
    }


def report_summary_inputs(wildcards=None):
    return PLAN.summary_inputs()


def report_section_files(wildcards=None):
    return [i["path"] for s in PLAN.sections for kind in ("figures", "tables") for i in s[kind]]
