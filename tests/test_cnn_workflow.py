"""The CNN stage end to end on the shipped demo configuration: it beats the majority class, holds its own
against a logistic regression on shape features, ranks the donors as planted, and its saved model
reproduces its test-set predictions exactly."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from scipy.stats import spearmanr

from morphopotency.cnn import data
from morphopotency.cnn.model import load_model
from morphopotency.cnn.tensors import to_device
from morphopotency.cnn.train import predict_proba
from morphopotency.simulate.images import shape_class_ceiling
from tests.conftest import REPO
from tests.workflow_helpers import snakemake, write_project

pytestmark = pytest.mark.workflow
TARGETS = ("results/cnn/donor_multipotency.tsv", "results/cnn/donor_multipotency.png", "results/cnn/roc.png", "results/cnn/lr_search/surrogate.png",
           "results/cnn/lr_search/roc_auc.png", "results/cnn/final/confusion.png", "results/cnn/final/examples.png")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    shipped["rnaseq"]["gene_sets"] = {k: str(REPO / v) for k, v in shipped["rnaseq"]["gene_sets"].items()}
    shipped["rnaseq"]["markers"] = str(REPO / shipped["rnaseq"]["markers"])
    samples = [line for line in (REPO / "config" / "samples.tsv").read_text().splitlines()[1:] if line.startswith("S")]
    root = write_project(tmp_path_factory.mktemp("cnn"), shipped, samples)
    result = snakemake(root, *TARGETS, timeout=1500)
    assert result.returncode == 0, result.stderr[-4000:]
    return root, shipped


def test_comparison_table_and_selection(demo):
    root, config = demo
    comparison = pd.read_csv(root / "results/cnn/comparison.tsv", sep="\t")
    assert list(comparison["model"]) == config["cnn"]["backbones"]
    assert comparison["selected"].sum() == 1 and (comparison["folds"] == config["cnn"]["folds"]).all()
    assert comparison.loc[0, "accuracy"].count("±") == 1
    selected = json.loads((root / "results/cnn/selected_backbone.json").read_text())["backbone"]
    best = comparison.sort_values("roc_auc_mean", ascending=False).iloc[0]["model"]
    assert selected == best
    per_fold = pd.read_csv(root / "results/cnn/metrics_per_fold.tsv", sep="\t")
    assert set(per_fold["model"]) == {*config["cnn"]["backbones"], "majority_class", "logistic_shape_features"}


def test_cnn_beats_majority_and_matches_shape_features(demo):
    root, _ = demo
    table = pd.read_csv(root / "results/cnn/baselines.tsv", sep="\t").set_index("model")
    selected = json.loads((root / "results/cnn/selected_backbone.json").read_text())["backbone"]
    cnn, majority = table.loc[selected], table.loc["majority_class"]
    assert majority["balanced_accuracy_mean"] == 0.5 and majority["roc_auc_mean"] == 0.5
    assert cnn["balanced_accuracy_mean"] > majority["balanced_accuracy_mean"] + 0.15
    assert cnn["roc_auc_mean"] > majority["roc_auc_mean"] + 0.2
    # Paired on the same held-out cells: clearly better than the majority class on both measures.
    versus = pd.read_csv(root / "results/cnn/cnn_vs_baselines.tsv", sep="\t").set_index(["model", "baseline", "metric"]).loc[selected]
    assert (versus.loc["majority_class", "ci_low"] > 0.1).all()
    # Against the logistic regression on shape measures: the planted label depends on the shape class
    # alone, so no model can pass ROC-AUC 0.771 / balanced accuracy 0.725 (shape_class_ceiling) and both sit
    # at that ceiling. Measured: ROC-AUC -0.013 (95 % CI -0.033..0.006), a tie; balanced accuracy at P 0.5
    # -0.033 (-0.062..-0.001), a small deficit from how the near-uninformative "irregular" cells are called
    # (issue 5 stays open on it). Asserted: no significant ROC-AUC deficit, balanced accuracy within 0.05.
    logistic = versus.loc["logistic_shape_features"]
    assert logistic.loc["roc_auc", "ci_high"] >= 0, logistic
    assert logistic.loc["balanced_accuracy", "difference"] >= -0.05, logistic
    ceiling = shape_class_ceiling()
    for metric in ("roc_auc", "balanced_accuracy"):
        assert logistic.loc[metric, "model_value"] >= ceiling[metric] - 0.05, (metric, logistic)


def test_donor_ratios_rank_as_planted(demo):
    root, config = demo
    donors = pd.read_csv(root / "results/cnn/donor_multipotency.tsv", sep="\t").set_index("donor")
    planted = pd.Series(config["demo"]["multipotent_fraction"])
    assert (donors["ci_low"] <= donors["predicted_multipotent_fraction"]).all() and (donors["predicted_multipotent_fraction"] <= donors["ci_high"]).all()
    assert (donors["cv_ci_low"] <= donors["cv_predicted_fraction"]).all() and (donors["cv_predicted_fraction"] <= donors["cv_ci_high"]).all()
    assert donors["cv_cells"].sum() == donors["cells"].sum()  # every cell held out once
    # Leakage-safe (cross-validated) fractions rank the donors as planted.
    held_out = donors.loc[planted.index, "cv_predicted_fraction"]
    assert spearmanr(held_out, planted).statistic >= 0.9 - 1e-9, donors
    # The final model over all cells (the paper's Fig. 4F) puts S8 on top; S1/S5/S7 are planted 0.05
    # apart, within the noise of ~100 cells each.
    final = donors.loc[planted.index, "predicted_multipotent_fraction"]
    assert final.idxmax() == planted.idxmax() == "S8"
    assert spearmanr(final, planted).statistic >= 0.7, donors


def test_reloaded_model_reproduces_test_predictions(demo):
    root, _ = demo
    model, spec, meta = load_model(root / "results/cnn/final/model.safetensors")
    cells = data.load(root / "results/cnn/data/crops.npy", root / "results/cnn/data/cells.tsv")
    test = pd.read_csv(root / "results/cnn/final/test_predictions.tsv", sep="\t")
    torch.set_num_threads(2)
    prob = predict_proba(model, to_device(cells.crops, torch.device("cpu")), test["cell"].to_numpy(), spec)
    assert [f"{p:.10g}" for p in prob] == [f"{p:.10g}" for p in test["prob"]]
    assert meta["learning_rate"] == json.loads((root / "results/cnn/lr_search/best.json").read_text())["learning_rate"]


def test_lr_search_is_stored_and_merged(demo):
    root, config = demo
    search = config["cnn"]["lr_search"]
    trials = pd.read_csv(root / "results/cnn/lr_search/trials.tsv", sep="\t")
    assert len(trials) == search["trials"] * search["repeats"]
    assert trials["learning_rate"].between(search["low"], search["high"]).all()
    assert sorted(p.name for p in (root / "results/cnn/lr_search/studies").iterdir()) == [f"repeat{r}.sqlite" for r in range(search["repeats"])]
    assert not list((root / "results/cnn/checkpoints").glob("*.pt"))  # removed once each job finished
    again = snakemake(root, *TARGETS, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
