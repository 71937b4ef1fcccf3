"""One repeat of the Bayesian learning-rate search for the selected backbone (rule cnn_lr_search)."""

import json

import pandas as pd
import torch

from morphopotency.cnn import data
from morphopotency.cnn.lr_search import run_study
from morphopotency.cnn.settings import model_spec, train_params, weights_file
from morphopotency.cnn.splits import fold_indices
from morphopotency.cnn.tensors import resolve_device, to_device
from morphopotency.cnn.train import train_classifier
from morphopotency.io.tables import write_tsv
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_lr_search")
cnn = snakemake.params.cnn
search = cnn["lr_search"]
repeat = int(snakemake.wildcards.repeat)
torch.set_num_threads(snakemake.threads)
device = resolve_device(cnn["device"])
backbone = json.loads(open(snakemake.input.selected).read())["backbone"]
cells = data.load(snakemake.input.crops, snakemake.input.cells)
index = fold_indices(pd.read_csv(snakemake.input.splits, sep="\t"), cnn["final_fold"])
crops, labels = to_device(cells.crops, device), torch.as_tensor(cells.labels, device=device)
spec = model_spec(cnn, backbone)


def objective(learning_rate: float) -> tuple[float, float]:
    params = train_params(cnn, learning_rate=learning_rate, epochs=search["epochs"], seed_offset=100 * repeat)
    fit = train_classifier(
        spec,
        crops,
        labels,
        index["train"],
        index["val"],
        params,
        weights=weights_file(cnn, backbone),
        log=log,
    )
    auc = float(fit.history.loc[fit.history["epoch"] == fit.best_epoch, "val_roc_auc"].iloc[0])
    log.info("lr %.3g: val loss %.4f, val ROC-AUC %.3f", learning_rate, fit.best_val_loss, auc)
    return fit.best_val_loss, auc


trials = run_study(
    objective,
    snakemake.params.study,
    search["trials"],
    search["low"],
    search["high"],
    seed=cnn["seed"] + repeat,
    n_startup_trials=search["startup_trials"],
    sampler=search["sampler"],
)
write_tsv(trials.assign(repeat=repeat, backbone=backbone), snakemake.output.trials)
