"""The backbone the learning-rate search and the final model use (rule cnn_select_backbone)."""

import json

from morphopotency.cnn.metrics import comparison_table, fold_metrics, read_predictions, select_backbone
from morphopotency.io.atomic import atomic_path
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_select_backbone")
p = snakemake.params
comparison = comparison_table(fold_metrics(read_predictions(snakemake.input.predictions)))
chosen = select_backbone(comparison, p.select_by, p.final_backbone)
with atomic_path(snakemake.output.selected) as tmp:
    choice = {"backbone": chosen, "select_by": p.select_by if p.final_backbone == "auto" else "config"}
    tmp.write_text(json.dumps(choice, indent=2) + "\n")
log.info("selected %s", chosen)
