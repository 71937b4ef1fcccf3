"""One leave-one-donor-out model (rule cnn_lodo): the final model's recipe (selected backbone, searched
learning rate) trained without one donor, which it then scores with its own validation cells' cut-off."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from morphopotency.cnn.job import prepare
from morphopotency.cnn.metrics import decision_threshold
from morphopotency.cnn.model import save_model
from morphopotency.cnn.settings import train_params
from morphopotency.cnn.train import predict_proba
from morphopotency.io.tables import write_tsv
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_lodo")
cnn, donor, inputs = snakemake.params.cnn, snakemake.wildcards.donor, snakemake.input
backbone = json.loads(Path(inputs.selected).read_text())["backbone"]
learning_rate = json.loads(Path(inputs.best).read_text())["learning_rate"]
job = prepare(cnn, backbone, inputs.crops, inputs.cells, None, None, snakemake.threads, held_out_donor=donor)
cells, index = job.cells, job.index
log.info("%s without donor %s: %d train, %d val, %d test cells", backbone, donor, *map(len, index.values()))
fit = job.train(train_params(cnn, learning_rate=learning_rate), snakemake.params.checkpoint, log)
prob = {role: predict_proba(fit.model, job.crops, index[role], job.spec) for role in ("val", "test")}
threshold = decision_threshold(cnn["threshold"], cells.labels[index["val"]], prob["val"])
rows = np.concatenate([index["val"], index["test"]])
table = cells.cells.iloc[rows][["donor", "image", "cell_id", "label"]].assign(
    cell=rows,
    role=["val"] * len(index["val"]) + ["test"] * len(index["test"]),
    prob=np.concatenate([prob["val"], prob["test"]]),
    threshold=threshold,
    held_out=donor,
    train_prevalence=float(cells.labels[index["train"]].mean()),
)
write_tsv(pd.DataFrame(table), snakemake.output.predictions)
# Kept for cross-fitted scoring (score.estimator pacc_cross): a new lot is scored by every LODO model,
# each with its rates on the donor it never saw.
save_model(
    fit.model,
    job.spec,
    snakemake.output.model,
    {
        "held_out": donor,
        "learning_rate": learning_rate,
        "best_epoch": fit.best_epoch,
        "threshold": threshold,
        "pretrained": str(job.weights),
    },
)
Path(snakemake.params.checkpoint).unlink(missing_ok=True)
log.info(
    "donor %s: SSEA3 %.3f, mean P %.3f",
    donor,
    table.loc[table.role == "test", "label"].mean(),
    prob["test"].mean(),
)
