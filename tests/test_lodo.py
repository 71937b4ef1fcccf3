"""Leave-one-donor-out validation: the split never lets a model see its held-out donor, and each donor's
fraction is estimated with its own model's validation error rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from morphopotency.cnn.lodo import (
    PREVALENCES,
    donor_shift,
    lodo_fractions,
    lodo_validation,
    prevalence_sweep,
)
from morphopotency.cnn.splits import leave_donor_out
from morphopotency.prevalence import Reference, estimate


def _cells(seed=0):
    rng = np.random.default_rng(seed)
    donors = np.repeat(["A", "B", "C", "D"], 60)
    images = [f"{d}_{i // 10}" for d, i in zip(donors, np.tile(np.arange(60), 4))]
    return pd.DataFrame({"donor": donors, "image": images, "label": rng.integers(0, 2, 240)})


@pytest.mark.parametrize("group_by", ["image", "donor", "none"])
def test_the_held_out_donor_is_all_test_and_never_trained_on(group_by):
    cells = _cells()
    index = leave_donor_out(cells, "B", group_by, 0.1, seed=0)
    assert set(cells.iloc[index["test"]]["donor"]) == {"B"} and len(index["test"]) == 60
    seen = np.concatenate([index["train"], index["val"]])
    assert "B" not in set(cells.iloc[seen]["donor"]) and len(seen) == 180
    assert not set(index["train"]) & set(index["val"])
    if group_by != "none":
        column = "image" if group_by == "image" else "donor"
        assert not set(cells.iloc[index["train"]][column]) & set(cells.iloc[index["val"]][column])
    if group_by == "image":
        assert 18 <= len(index["val"]) <= 30  # about a tenth of all cells, whole images


def test_leave_donor_out_errors_say_what_is_wrong():
    cells = _cells()
    with pytest.raises(ValueError, match="donor 'Z' has no cells"):
        leave_donor_out(cells, "Z", "image")
    two = cells[cells["donor"].isin(["A", "B"])]
    with pytest.raises(ValueError, match="1 donor group"):
        leave_donor_out(two, "A", "donor")


def _predictions():
    """Two held-out donors scored by their own models: each model's cut-off and validation cells differ."""
    rng = np.random.default_rng(1)
    parts = []
    for donor, truth, cut in (("A", 0.2, 0.4), ("B", 0.8, 0.6)):
        for role, n, prevalence in (("val", 400, 0.5), ("test", 300, truth)):
            labels = (rng.uniform(size=n) < prevalence).astype(int)
            prob = np.clip(rng.normal(np.where(labels == 1, 0.7, 0.3), 0.15), 0, 1)
            parts.append(
                pd.DataFrame(
                    {"held_out": donor, "role": role, "label": labels, "prob": prob, "threshold": cut}
                ).assign(train_prevalence=0.5)
            )
    return pd.concat(parts, ignore_index=True)


def test_each_donor_is_estimated_with_its_own_models_error_rates():
    predictions = _predictions()
    fractions = lodo_fractions(predictions, n_boot=200)
    assert set(fractions["estimator"]) == {"cc", "pcc", "acc", "pacc", "em", "acc_donor", "pacc_donor"}
    for donor, part in predictions.groupby("held_out"):
        val, test = part[part.role == "val"], part[part.role == "test"]
        cut = part["threshold"].iloc[0]
        reference = Reference(val["label"].to_numpy(), val["prob"].to_numpy(), cut, 0.5)
        row = fractions[(fractions.donor == donor) & (fractions.estimator == "pacc")].iloc[0]
        assert row["fraction"] == pytest.approx(estimate("pacc", reference, test["prob"].to_numpy(), cut))
        assert row["ssea3_positive_fraction"] == pytest.approx(test["label"].mean())
        assert row["ci_low"] <= row["fraction"] <= row["ci_high"]
    summary = lodo_validation(fractions).set_index("estimator")
    # Counting is pulled towards the validation prevalence (0.5); the adjusted estimators are not.
    assert summary.loc["pacc", "mean_abs_error"] < summary.loc["cc", "mean_abs_error"]
    assert summary.loc["acc", "intervals_covering"] == 2 and summary.loc["cc", "donors"] == 2


def test_prevalence_sweep_shows_countings_pull_and_not_the_adjusted_estimators():
    predictions = _predictions()
    sweep = prevalence_sweep(predictions, repeats=20, seed=0).set_index(["estimator", "prevalence"])
    assert sorted(sweep.index.get_level_values("prevalence").unique()) == list(PREVALENCES)
    assert (sweep["draws"] == 2 * 20).all()  # every held-out donor, every repeat
    cc, acc = sweep.loc["cc", "mean_signed_error"], sweep.loc["acc", "mean_signed_error"]
    # Counting reads a poor lot high and a rich one low; ACC stays centred over the whole range.
    assert cc.loc[0.05] > 0.1 and cc.loc[0.95] < -0.1
    assert acc.abs().max() < 0.03
    summary = lodo_validation(lodo_fractions(predictions, n_boot=50), sweep.reset_index())
    summary = summary.set_index("estimator")
    assert summary.loc["acc", "sweep_mean_abs_error"] < summary.loc["cc", "sweep_mean_abs_error"]
    # Counting's pull has signed errors of both signs; the bias counts them all the same.
    assert summary.loc["cc", "sweep_bias"] > 0.05 > 0.03 > summary.loc["acc", "sweep_bias"]


def _unseen_donor_predictions():
    """Three held-out donors whose negatives each score 0.1 higher than their model's validation
    negatives: cells of a donor a model never saw look more multipotent to it."""
    rng = np.random.default_rng(2)
    parts = []
    for donor, truth in (("A", 0.2), ("B", 0.5), ("C", 0.8)):
        for role, n, prevalence, negative in (("val", 400, 0.5, 0.3), ("test", 400, truth, 0.4)):
            labels = (rng.uniform(size=n) < prevalence).astype(int)
            prob = np.clip(rng.normal(np.where(labels == 1, 0.7, negative), 0.1), 0, 1)
            parts.append(
                pd.DataFrame(
                    {"held_out": donor, "role": role, "label": labels, "prob": prob, "threshold": 0.5}
                )
            )
    return pd.concat(parts, ignore_index=True).assign(train_prevalence=0.5)


def test_donor_shift_corrects_what_held_out_images_miss_and_is_nested():
    predictions = _unseen_donor_predictions()
    shift = donor_shift(predictions)
    a = predictions[predictions["held_out"] == "A"]
    by_hand = [a.loc[(a.role == role) & (a.label == 0), "prob"].mean() for role in ("test", "val")]
    assert list(shift.donors) == ["A", "B", "C"]
    assert shift.soft_neg[0] == pytest.approx(by_hand[0] - by_hand[1])
    assert np.allclose(shift.soft_neg, 0.1, atol=0.03) and np.allclose(shift.soft_pos, 0, atol=0.03)
    fractions = lodo_fractions(predictions, n_boot=100)
    # A's estimate moves its model's validation rates by B's and C's shift only.
    val, test = a[a.role == "val"], a[a.role == "test"]
    reference = Reference(val["label"].to_numpy(), val["prob"].to_numpy(), 0.5, 0.5, shift.without("A"))
    row = fractions[(fractions.donor == "A") & (fractions.estimator == "pacc_donor")].iloc[0]
    assert row["fraction"] == pytest.approx(estimate("pacc_donor", reference, test["prob"].to_numpy()))
    sweep = prevalence_sweep(predictions, repeats=10, seed=0)
    summary = lodo_validation(fractions, sweep).set_index("estimator")
    # PACC reads every unseen donor high, most where negatives abound; the donor form does not.
    assert summary.loc["pacc", "mean_signed_error"] > 0.1
    assert abs(summary.loc["pacc_donor", "mean_signed_error"]) < 0.03
    assert summary.loc["pacc_donor", "sweep_bias"] < 0.03 < summary.loc["pacc", "sweep_bias"]


def test_prevalence_sweep_draws_exact_prevalences():
    """A perfect classifier counts each draw exactly: every redraw holds round(prevalence x n) positives."""
    rows = []
    for role, labels in (("val", [0, 1] * 20), ("test", [0] * 7 + [1] * 6)):
        rows += [
            {
                "held_out": "A",
                "role": role,
                "label": y,
                "prob": float(y),
                "threshold": 0.5,
                "train_prevalence": 0.5,
            }
            for y in labels
        ]
    sweep = prevalence_sweep(pd.DataFrame(rows), methods=("cc",), repeats=3)
    assert (sweep["mean_abs_error"] == 0).all() and (sweep["draws"] == 3).all()
