"""Training (early stopping, resume after an interruption), metrics, learning-rate search, donor ratios."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

import morphopotency.cnn.train as train_module
from morphopotency.cnn.donors import donor_fractions
from morphopotency.cnn.lr_search import best_learning_rate, run_study, surrogate
from morphopotency.cnn.metrics import (
    _boot_scores,
    baseline_cv_predictions,
    baseline_predictions,
    classification_metrics,
    comparison_table,
    confusion_table,
    decision_threshold,
    fold_metrics,
    outcome_labels,
    paired_differences,
    pooled_metrics,
    select_backbone,
    validation_threshold,
)
from morphopotency.cnn.model import ModelSpec
from morphopotency.cnn.train import TrainParams, predict_proba, train_classifier

SPEC = ModelSpec("resnet10t", image_size=32)


def _blobs(n=48, seed=0):
    """Label 1 = a disc, label 0 = a thin bar, at random positions: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    crops = np.zeros((n, 32, 32), dtype=np.uint8)
    labels = np.arange(n) % 2
    yy, xx = np.mgrid[:32, :32]
    for i, label in enumerate(labels):
        cy, cx = rng.integers(10, 22, 2)
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < 36 if label else (abs(yy - cy) < 2) & (abs(xx - cx) < 10)
        crops[i][mask] = rng.integers(120, 255)
    return torch.from_numpy(crops), torch.from_numpy(labels)


def test_early_stopping_keeps_the_best_epoch_and_it_learns():
    crops, labels = _blobs()
    train, val = np.arange(32), np.arange(32, 48)
    fit = train_classifier(
        SPEC,
        crops,
        labels,
        train,
        val,
        TrainParams(learning_rate=3e-3, epochs=8, patience=2, batch_size=8, seed=1),
        progress=False,
    )
    history = fit.history
    assert fit.best_epoch == int(history.loc[history["val_loss"].idxmin(), "epoch"])
    assert len(history) <= 8 and (len(history) == 8 or len(history) - fit.best_epoch == 2)
    prob = predict_proba(fit.model, crops, val, SPEC, tta=False)  # early stopping's own view
    y = labels[val].numpy()
    loss = -np.mean(y * np.log(np.clip(prob, 1e-7, 1)) + (1 - y) * np.log(np.clip(1 - prob, 1e-7, 1)))
    assert loss == pytest.approx(fit.best_val_loss, rel=1e-5)  # the returned weights are the best epoch's
    assert roc_auc_score(y, prob) > 0.8
    assert roc_auc_score(y, predict_proba(fit.model, crops, val, SPEC)) > 0.8  # with the 8-view average


@pytest.mark.parametrize("min_auc, kept, epochs", [(None, 1, 4), (0.6, 5, 7), (0.95, 1, 3)])
def test_early_stopping_keeps_no_epoch_that_ranks_below_the_floor(monkeypatch, min_auc, kept, epochs):
    """The demo's failure, scripted: the untrained first epoch has the lowest loss while the ranking
    improves. By loss alone it is kept (patience 3 stops at 4); with a floor of 0.6 the best-loss epoch
    among those reaching it is; with a floor no epoch reaches, the lowest loss, and patience never reset."""
    crops, labels = _blobs(n=24)
    scripted = iter(
        [(0.69, 0.40), (0.90, 0.55), (1.05, 0.70), (1.10, 0.75), (0.80, 0.80), (0.85, 0.9), (1.2, 0.6)]
    )
    monkeypatch.setattr(train_module, "_val_loss", lambda *args, **kwargs: next(scripted))
    params = TrainParams(
        learning_rate=1e-3, epochs=7, patience=3, batch_size=8, seed=0, min_val_roc_auc=min_auc
    )
    fit = train_classifier(SPEC, crops, labels, np.arange(16), np.arange(16, 24), params, progress=False)
    assert fit.best_epoch == kept and len(fit.history) == epochs
    assert fit.best_val_loss == [0.69, 0.90, 1.05, 1.10, 0.80][kept - 1]


def test_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    crops, labels = _blobs(seed=2)
    train, val = np.arange(32), np.arange(32, 48)
    params = TrainParams(learning_rate=1e-3, epochs=4, patience=10, batch_size=8, seed=3)
    uninterrupted = train_classifier(SPEC, crops, labels, train, val, params, progress=False)

    checkpoint = tmp_path / "fold.pt"
    real = train_module._val_loss
    calls = {"n": 0}

    def crash_in_epoch_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "_val_loss", crash_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(SPEC, crops, labels, train, val, params, checkpoint=checkpoint, progress=False)
    monkeypatch.setattr(train_module, "_val_loss", real)
    assert checkpoint.is_file()
    resumed = train_classifier(SPEC, crops, labels, train, val, params, checkpoint=checkpoint, progress=False)
    assert list(resumed.history["epoch"]) == [1, 2, 3, 4]
    for key, value in uninterrupted.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    # A checkpoint of another set-up is not resumed from.
    other = train_classifier(
        SPEC,
        crops,
        labels,
        train,
        val,
        TrainParams(learning_rate=2e-3, epochs=1, batch_size=8, seed=3),
        checkpoint=checkpoint,
        progress=False,
    )
    assert list(other.history["epoch"]) == [1]


def test_metrics_by_hand():
    y = np.array([1, 1, 1, 0, 0])
    prob = np.array([0.9, 0.6, 0.2, 0.7, 0.1])
    m = classification_metrics(y, prob)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["sensitivity"] == pytest.approx(2 / 3) and m["specificity"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, prob))
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert confusion_table(y, prob).to_numpy().tolist() == [[1, 1], [1, 2]]
    assert list(outcome_labels(y, prob)) == [
        "true positive",
        "true positive",
        "false negative",
        "false positive",
        "true negative",
    ]
    table = comparison_table(
        pd.DataFrame({"model": ["a", "a"], "fold": [0, 1], **{k: [0.5, 0.7] for k in m}})
    )
    assert table.loc[0, "accuracy"] == "0.600 ± 0.141"


def test_baselines_majority_and_logistic_regression():
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"circularity": np.r_[rng.normal(0.8, 0.05, 50), rng.normal(0.4, 0.05, 50)]})
    labels = np.r_[np.ones(50, int), np.zeros(50, int)]
    order = rng.permutation(100)
    out = baseline_predictions(features, labels, order[:70], order[70:])
    assert set(np.unique(out["majority_class"])) <= {0.0, 1.0} and len(np.unique(out["majority_class"])) == 1
    assert roc_auc_score(labels[order[70:]], out["logistic_shape_features"]) > 0.99


def test_lr_search_finds_the_minimum_and_resumes(tmp_path):
    def objective(lr):  # validation loss smallest at 1e-3
        return (np.log10(lr) + 3) ** 2 + 0.1, 1.0 - abs(np.log10(lr) + 3) / 4

    storage = tmp_path / "study.sqlite"
    first = run_study(objective, storage, n_trials=4, low=1e-5, high=1e-1, seed=0, n_startup_trials=2)
    assert len(first) == 4
    full = run_study(objective, storage, n_trials=10, low=1e-5, high=1e-1, seed=0, n_startup_trials=2)
    assert len(full) == 10 and full.head(4).equals(first)  # resumed, not restarted
    assert abs(np.log10(best_learning_rate(full)) + 3) < 0.5
    curve = surrogate(full.assign(repeat=0), 1e-5, 1e-1)
    assert (curve["expected_improvement"] >= 0).all() and (curve["sd"] > 0).all()
    assert abs(curve.loc[curve["mean"].idxmin(), "log10_learning_rate"] + 3) < 0.5


def test_donor_fractions_with_bootstrap_interval():
    cells = pd.DataFrame(
        {"donor": ["A"] * 100 + ["B"] * 50, "label": [1] * 30 + [0] * 70 + [1] * 40 + [0] * 10}
    )
    prob = np.r_[np.full(25, 0.9), np.full(75, 0.1), np.full(35, 0.8), np.full(15, 0.3)]
    table = donor_fractions(cells, prob, n_boot=1000, seed=1).set_index("donor")
    assert (
        table.loc["A", "predicted_multipotent_fraction"] == 0.25
        and table.loc["B", "predicted_multipotent_fraction"] == 0.7
    )
    assert (
        table.loc["A", "ci_low"] < 0.25 < table.loc["A", "ci_high"]
        and table.loc["A", "ci_high"] - table.loc["A", "ci_low"] < 0.2
    )
    assert table.loc["B", "ssea3_positive_fraction"] == 0.8
    assert table.equals(donor_fractions(cells, prob, n_boot=1000, seed=1).set_index("donor"))


def test_fold_metrics_baseline_folds_and_selection():
    rng = np.random.default_rng(1)
    features = pd.DataFrame({"circularity": np.r_[rng.normal(0.8, 0.1, 30), rng.normal(0.5, 0.1, 30)]})
    labels = np.r_[np.ones(30, int), np.zeros(30, int)]
    splits = pd.DataFrame(
        {
            "cell": np.tile(np.arange(60), 2),
            "fold": np.repeat([0, 1], 60),
            "role": np.r_[
                np.where(np.arange(60) % 2, "test", "train"), np.where(np.arange(60) % 2, "train", "test")
            ],
        }
    )
    baseline = baseline_cv_predictions(features, labels, splits)
    assert sorted(baseline.loc[baseline["model"] == "majority_class", "cell"]) == list(
        range(60)
    )  # each cell held out once
    per_fold = fold_metrics(baseline)
    assert (
        set(per_fold["model"]) == {"majority_class", "logistic_shape_features"}
        and (per_fold["cells"] == 30).all()
    )
    assert (per_fold.loc[per_fold["model"] == "majority_class", "roc_auc"] == 0.5).all()
    pooled = pooled_metrics(baseline).set_index("model")
    assert pooled.loc["logistic_shape_features", "pooled_roc_auc"] > 0.9
    table = comparison_table(per_fold)
    assert select_backbone(table, "roc_auc") == "logistic_shape_features"
    assert select_backbone(table, "roc_auc", "majority_class") == "majority_class"
    with pytest.raises(ValueError, match="'vgg19' is not among the compared backbones"):
        select_backbone(table, "roc_auc", "vgg19")


def test_paired_differences_bootstrap_the_same_cells():
    rng = np.random.default_rng(3)
    label = np.r_[np.ones(80, int), np.zeros(120, int)]
    good = np.clip(label * 0.3 + rng.uniform(0, 0.7, 200), 0, 1).round(
        2
    )  # rounded: ties, as a CNN's TTA can give
    noise = rng.uniform(0, 1, 200)
    frames = [
        pd.DataFrame(
            {"model": m, "fold": np.arange(200) % 2, "cell": np.arange(200), "label": label, "prob": p}
        )
        for m, p in (("cnn", good), ("copy", good), ("noise", noise))
    ]
    table = paired_differences(pd.concat(frames), ["cnn"], ["copy", "noise"], n_boot=500).set_index(
        ["baseline", "metric"]
    )
    auc = table.loc[("noise", "roc_auc")]
    assert auc["model_value"] == pytest.approx(roc_auc_score(label, good)) and auc[
        "baseline_value"
    ] == pytest.approx(roc_auc_score(label, noise))
    assert auc["ci_low"] > 0 and auc["share_worse"] == 0 and auc["cells"] == 200
    same = table.loc["copy"]
    assert (
        (same[["difference", "ci_low", "ci_high"]] == 0).all().all()
    )  # paired: identical predictions never differ
    # The hand-vectorised AUC agrees with sklearn's, ties included (checked on the un-resampled cells).
    order = np.r_[np.flatnonzero(label == 0), np.flatnonzero(label == 1)]
    scores = _boot_scores(good[order][None, :], 120, 0.5)
    assert scores["roc_auc"][0] == pytest.approx(roc_auc_score(label, good))
    assert scores["balanced_accuracy"][0] == pytest.approx(
        classification_metrics(label, good)["balanced_accuracy"]
    )
    with pytest.raises(ValueError, match="incomplete: missing"):
        paired_differences(pd.concat(frames), ["cnn"], ["missing"])


def test_validation_threshold_maximises_balanced_accuracy_and_rows_keep_their_own():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    prob = np.array(
        [0.55, 0.6, 0.62, 0.7, 0.72, 0.8, 0.9, 0.95]
    )  # all above 0.5: argmax calls everyone positive
    cut = validation_threshold(y, prob)
    assert cut == 0.72 and classification_metrics(y, prob, cut)["balanced_accuracy"] == 1.0
    assert classification_metrics(y, prob)["balanced_accuracy"] == 0.5
    assert validation_threshold(np.ones(4, int), prob[:4]) == 0.5  # one class: nothing to choose from
    assert decision_threshold(0.3, y, prob) == 0.3 and decision_threshold("validation", y, prob) == 0.72
    # Pooled folds with their own cut-offs: each cell is called against its model's cut-off.
    frame = pd.DataFrame(
        {
            "model": "m",
            "fold": [0] * 4 + [1] * 4,
            "cell": range(8),
            "label": [0, 1, 0, 1, 0, 1, 0, 1],
            "prob": [0.6, 0.8, 0.6, 0.8, 0.2, 0.4, 0.2, 0.4],
            "threshold": [0.7] * 4 + [0.3] * 4,
        }
    )
    assert (fold_metrics(frame)["balanced_accuracy"] == 1.0).all() and pooled_metrics(frame).loc[
        0, "pooled_balanced_accuracy"
    ] == 1.0
    assert pooled_metrics(frame.drop(columns="threshold")).loc[0, "pooled_balanced_accuracy"] == 0.5
    both = pd.concat([frame, frame.assign(model="fixed", threshold=0.5)])
    diff = paired_differences(both, ["m"], ["fixed"], n_boot=200).set_index("metric")
    assert diff.loc["balanced_accuracy", "difference"] == 0.5 and diff.loc["balanced_accuracy", "ci_low"] > 0
