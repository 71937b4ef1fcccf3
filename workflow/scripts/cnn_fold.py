"""Train one backbone on one cross-validation fold and predict its held-out cells (rule cnn_fold)."""

from pathlib import Path

import pandas as pd

from morphopotency.cnn.job import prepare
from morphopotency.cnn.metrics import decision_threshold
from morphopotency.cnn.settings import train_params
from morphopotency.cnn.train import predict_proba
from morphopotency.io.tables import write_tsv
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_fold")
cnn = snakemake.params.cnn
backbone, fold = snakemake.wildcards.backbone, int(snakemake.wildcards.fold)
inputs = snakemake.input
job = prepare(cnn, backbone, inputs.crops, inputs.cells, inputs.splits, fold, snakemake.threads)
cells, crops, index, spec = job.cells, job.crops, job.index, job.spec
log.info(
    "%s fold %d on %s: %d train, %d val, %d test cells at %d px",
    backbone,
    fold,
    job.device,
    *map(len, index.values()),
    spec.image_size,
)
fit = job.train(train_params(cnn, seed_offset=fold), snakemake.params.checkpoint, log)
prob = predict_proba(fit.model, crops, index["test"], spec, cnn["batch_size"] * 2)
# The decision cut-off: fixed, or chosen on this fold's validation cells (never its test cells).
threshold = decision_threshold(
    cnn["threshold"],
    cells.labels[index["val"]],
    predict_proba(fit.model, crops, index["val"], spec, cnn["batch_size"] * 2),
)
test = cells.cells.iloc[index["test"]]
out = pd.DataFrame(
    {
        "cell": index["test"],
        "donor": test["donor"].to_numpy(),
        "image": test["image"].to_numpy(),
        "label": test["label"].to_numpy(),
        "prob": prob,
        "threshold": threshold,
    }
)
write_tsv(out.assign(model=backbone, fold=fold), snakemake.output.predictions)
write_tsv(fit.history, snakemake.output.history)
# The outputs are safe: the resume checkpoint has done its job.
Path(snakemake.params.checkpoint).unlink(missing_ok=True)
log.info(
    "best epoch %d (val loss %.4f), decision threshold %.4g", fit.best_epoch, fit.best_val_loss, threshold
)
