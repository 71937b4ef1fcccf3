"""One repeat of the Bayesian learning-rate search for the selected backbone (rule cnn_lr_search)."""

import json

from morphopotency.cnn.job import prepare
from morphopotency.cnn.lr_search import run_study
from morphopotency.cnn.settings import train_params
from morphopotency.io.tables import write_tsv
from morphopotency.scriptlog import job_logger

log = job_logger(snakemake.log[0], "cnn_lr_search")
cnn = snakemake.params.cnn
search = cnn["lr_search"]
repeat = int(snakemake.wildcards.repeat)
backbone = json.loads(open(snakemake.input.selected).read())["backbone"]
inputs = snakemake.input
job = prepare(cnn, backbone, inputs.crops, inputs.cells, inputs.splits, cnn["final_fold"], snakemake.threads)


def objective(learning_rate: float) -> tuple[float, float]:
    params = train_params(cnn, learning_rate=learning_rate, epochs=search["epochs"], seed_offset=100 * repeat)
    fit = job.train(params, log=log)
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
