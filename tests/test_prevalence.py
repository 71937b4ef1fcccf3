"""Donor fractions as class-prevalence estimates: hand-worked cases, QuaPy (the reference library) on the
same inputs, and the bias classify-and-count has and the adjusted estimators remove."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from morphopotency.prevalence import (
    DonorShift,
    Reference,
    bootstrap_interval,
    cells_needed,
    estimate,
)


def reference_with(tpr: float, fpr: float, n: int = 1000, threshold: float = 0.5) -> Reference:
    """n positives of which tpr are called, n negatives of which fpr are called (probabilities 0.9 / 0.1)."""
    pos = np.r_[np.full(round(tpr * n), 0.9), np.full(n - round(tpr * n), 0.1)]
    neg = np.r_[np.full(round(fpr * n), 0.9), np.full(n - round(fpr * n), 0.1)]
    return Reference(np.r_[np.ones(n, int), np.zeros(n, int)], np.r_[pos, neg], threshold, 0.5)


def test_adjusted_count_by_hand():
    ref = reference_with(0.8, 0.2)
    assert ref.rates() == (0.8, 0.2)
    half = np.r_[np.full(50, 0.9), np.full(50, 0.1)]  # CC 0.5
    assert estimate("cc", ref, half) == 0.5 and estimate("acc", ref, half) == pytest.approx(0.5)
    rich = np.r_[np.full(74, 0.9), np.full(26, 0.1)]  # CC 0.74 -> (0.74 - 0.2) / 0.6 = 0.9
    assert estimate("acc", ref, rich) == pytest.approx(0.9)
    poor = np.r_[np.full(10, 0.9), np.full(90, 0.1)]  # CC 0.1 < fpr: clipped to 0
    assert estimate("acc", ref, poor) == 0.0
    # soft rates: positives average 0.8 * 0.9 + 0.2 * 0.1 = 0.74, negatives 0.26; PCC 0.5 -> 0.5
    assert ref.soft_rates() == pytest.approx((0.74, 0.26))
    assert estimate("pacc", ref, half) == pytest.approx(0.5)
    assert np.isnan(estimate("acc", reference_with(0.3, 0.3), half))  # chance: not invertible
    assert np.isnan(estimate("em", ref, np.array([])))
    with pytest.raises(ValueError, match="unknown prevalence method 'xx'"):
        estimate("xx", ref, half)


def test_em_keeps_the_training_prior_when_the_sample_matches_it_and_moves_otherwise():
    rng = np.random.default_rng(1)
    prob = rng.uniform(0, 1, 4000)
    assert estimate("em", Reference(np.r_[0, 1], np.r_[0.2, 0.8], 0.5, float(prob.mean())), prob) == (
        pytest.approx(prob.mean(), abs=1e-3)
    )


def test_reference_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        Reference(np.ones(5, int), np.full(5, 0.7), 0.5, 0.5)


@pytest.fixture(scope="module")
def simulated():
    """A classifier with overlapping score distributions, calibrated at a training prevalence of 0.45."""
    rng = np.random.default_rng(7)

    def cells(n: int, prevalence: float):
        labels = (rng.uniform(size=n) < prevalence).astype(int)
        score = rng.normal(np.where(labels == 1, 1.0, -1.0), 1.0)
        prior = 0.45
        odds = np.exp(2 * score) * prior / (1 - prior)  # exact posterior under prior 0.45
        return labels, odds / (1 + odds)

    ref_labels, ref_prob = cells(4000, 0.45)
    return Reference(ref_labels, ref_prob, 0.5, 0.45), cells


@pytest.mark.parametrize("truth", [0.15, 0.45, 0.8])
def test_adjusted_estimators_remove_the_pull_towards_the_training_prevalence(simulated, truth):
    reference, cells = simulated
    _, prob = cells(20000, truth)
    cc = estimate("cc", reference, prob)
    for method in ("acc", "pacc", "em"):
        assert estimate(method, reference, prob) == pytest.approx(truth, abs=0.02), method
    if truth != 0.45:
        assert abs(cc - truth) > 0.05  # classify and count is pulled towards 0.45


def test_same_numbers_as_quapy(simulated):
    qp = pytest.importorskip("quapy")
    from quapy.functional import solve_adjustment_binary
    from quapy.method.aggregative import ACC, EMQ, PACC
    from sklearn.linear_model import LogisticRegression

    reference, cells = simulated
    _, prob = cells(3000, 0.7)
    labels, ref_prob = np.asarray(reference.labels), np.asarray(reference.prob)
    tpr, fpr = reference.rates()
    cc = np.mean(prob >= 0.5)
    assert estimate("acc", reference, prob) == pytest.approx(float(solve_adjustment_binary(cc, tpr, fpr)))
    ptpr, pfpr = reference.soft_rates()
    assert estimate("pacc", reference, prob) == pytest.approx(
        float(solve_adjustment_binary(prob.mean(), ptpr, pfpr))
    )
    # QuaPy's own aggregative quantifiers, fed the same held-out predictions.
    classifier = LogisticRegression().fit(np.array([[0.0], [1.0]]), np.array([0, 1]))
    acc = ACC(classifier, fit_classifier=False, val_split=None)
    acc.aggregation_fit((ref_prob >= 0.5).astype(int), labels)
    assert estimate("acc", reference, prob) == pytest.approx(
        acc.aggregate((prob >= 0.5).astype(int))[1], abs=1e-6
    )
    pacc = PACC(classifier, fit_classifier=False, val_split=None)
    pacc.aggregation_fit(np.c_[1 - ref_prob, ref_prob], labels)
    assert estimate("pacc", reference, prob) == pytest.approx(
        pacc.aggregate(np.c_[1 - prob, prob])[1], abs=1e-6
    )
    prior = np.array([1 - reference.train_prior, reference.train_prior])
    quapy_em, _ = EMQ.EM(prior, np.c_[1 - prob, prob], epsilon=1e-10)
    assert estimate("em", reference, prob) == pytest.approx(quapy_em[1], abs=1e-5)
    assert qp.__version__


def test_intervals_cover_the_truth_and_carry_the_reference_uncertainty(simulated):
    reference, cells = simulated
    _, prob = cells(400, 0.7)
    for method in ("acc", "pacc", "em"):  # cc and pcc are pulled towards the training prevalence
        low, high = bootstrap_interval(method, reference, prob, n_boot=300, seed=1)
        assert low < 0.7 < high, (method, low, high)
    # The same donor against a reference of 60 cells: the error rates are uncertain, the interval wider.
    small = Reference(reference.labels[:60], reference.prob[:60], 0.5, 0.45)
    wide = bootstrap_interval("acc", small, prob, n_boot=300, seed=1)
    narrow = bootstrap_interval("acc", reference, prob, n_boot=300, seed=1)
    assert wide[1] - wide[0] > 1.3 * (narrow[1] - narrow[0])


def test_cells_needed_for_a_half_width_by_hand():
    ref = reference_with(0.8, 0.2)
    # q = 0.2 + 0.5 * 0.6 = 0.5; n = 0.25 * (1.96 / (0.05 * 0.6))^2 = 1067.1 -> 1068
    assert cells_needed(ref, 0.05) == 1068
    assert cells_needed(ref, 0.10) == 267
    assert cells_needed(reference_with(0.3, 0.3), 0.05) == -1


def test_pacc_cells_needed_by_hand():
    # Two-valued probabilities make PACC an affine image of ACC: the same 1,068 cells as above.
    assert cells_needed(reference_with(0.8, 0.2), 0.05, method="pacc") == 1068
    # Probabilities 0.7 / 0.3, no spread within a class: variance 0.25 * 0.4^2 = 0.04, gap 0.4;
    # n = 0.04 * (1.96 / (0.05 * 0.4))^2 = 384.1 -> 385.
    flat = Reference(
        np.r_[np.ones(50, int), np.zeros(50, int)], np.r_[np.full(50, 0.7), np.full(50, 0.3)], 0.5, 0.5
    )
    assert cells_needed(flat, 0.05, method="pacc") == 385
    assert cells_needed(Reference(np.r_[1, 0], np.r_[0.4, 0.6], 0.5, 0.5), 0.05, method="pacc") == -1


def _shift(**columns) -> DonorShift:
    return DonorShift(
        np.array(["A", "B", "C"], dtype=object), **{k: np.asarray(v, float) for k, v in columns.items()}
    )


def test_donor_shift_moves_the_rates_by_its_mean_and_skips_a_class_a_donor_lacked():
    ref = reference_with(0.8, 0.2)
    shift = _shift(
        tpr=[-0.1, 0.0, np.nan], fpr=[0.1, 0.2, 0.0], soft_pos=[0.0, -0.04, np.nan], soft_neg=[0.06, 0, 0.03]
    )
    moved = Reference(ref.labels, ref.prob, 0.5, 0.5, shift)
    assert moved.rates() == (0.8, 0.2) and moved.soft_rates() == pytest.approx((0.74, 0.26))
    assert moved.rates(shifted=True) == pytest.approx((0.75, 0.3))
    assert moved.soft_rates(shifted=True) == pytest.approx((0.72, 0.29))
    half = np.r_[np.full(50, 0.9), np.full(50, 0.1)]  # CC 0.5, PCC 0.5
    assert estimate("acc_donor", moved, half) == pytest.approx(0.2 / 0.45)
    assert estimate("pacc_donor", moved, half) == pytest.approx(0.21 / 0.43)
    assert estimate("pacc", moved, half) == pytest.approx(0.5)  # the plain forms ignore the shift
    # Nested: a held-out donor's estimate uses the others' shift only.
    assert moved.shift.without("A").mean(soft=False) == pytest.approx((0.0, 0.1))
    restored = DonorShift.from_table(shift.to_table())
    assert list(restored.donors) == ["A", "B", "C"] and np.allclose(restored.fpr, shift.fpr)
    with pytest.raises(ValueError, match="lacks column"):
        DonorShift.from_table(shift.to_table().drop(columns="soft_neg"))
    with pytest.raises(ValueError, match="need the donor shift"):
        estimate("pacc_donor", ref, half)
    # The PACC guide with the shift: the gap narrows from 0.48 to 0.43, so more cells.
    assert cells_needed(moved, 0.05, method="pacc_donor") > cells_needed(moved, 0.05, method="pacc")


def test_donor_shift_interval_carries_the_shifts_spread_across_donors():
    rng = np.random.default_rng(3)
    labels = np.r_[np.ones(500, int), np.zeros(500, int)]
    prob = np.clip(rng.normal(np.where(labels == 1, 0.7, 0.3), 0.15), 0, 1)
    prob_new = np.clip(rng.normal(np.where(rng.uniform(size=400) < 0.4, 0.7, 0.3), 0.15), 0, 1)
    agreeing = _shift(tpr=[0, 0, 0], fpr=[0, 0, 0], soft_pos=[0.02] * 3, soft_neg=[0.02] * 3)
    spread = _shift(tpr=[0, 0, 0], fpr=[0, 0, 0], soft_pos=[-0.08, 0.02, 0.12], soft_neg=[-0.08, 0.02, 0.12])
    intervals = [
        bootstrap_interval("pacc_donor", Reference(labels, prob, 0.5, 0.5, s), prob_new, n_boot=400)
        for s in (agreeing, spread)
    ]
    widths = [high - low for low, high in intervals]
    assert widths[1] > 1.3 * widths[0]


def test_per_cell_cut_offs_of_cross_validated_predictions():
    """Each cell called at its own model's cut-off, in the reference and in the donor alike."""
    labels = np.r_[np.ones(4, int), np.zeros(4, int)]
    prob = np.array([0.7, 0.7, 0.55, 0.4, 0.55, 0.3, 0.2, 0.1])
    cut = np.array([0.5, 0.5, 0.6, 0.5, 0.5, 0.6, 0.6, 0.5])
    ref = Reference(labels, prob, cut, 0.5)
    assert ref.rates() == (0.5, 0.25)  # 0.55 falls below 0.6 for a positive, reaches 0.5 for a negative
    donor, donor_cut = np.array([0.55, 0.55, 0.9, 0.1]), np.array([0.5, 0.6, 0.5, 0.5])
    assert estimate("cc", ref, donor, donor_cut) == 0.5
    assert estimate("acc", ref, donor, donor_cut) == pytest.approx((0.5 - 0.25) / 0.25)
    low, high = bootstrap_interval("acc", ref, donor, donor_cut, n_boot=50, seed=0)
    assert 0 <= low <= high <= 1


def crossfit():
    from morphopotency.prevalence import CrossFit

    predictions = pd.DataFrame(
        {
            "held_out": ["A"] * 5 + ["B"] * 3,
            "role": ["test"] * 4 + ["val"] + ["test"] * 2 + ["val"],
            "label": [1, 1, 0, 0, 1, 1, 0, 0],
            "prob": [0.8, 0.6, 0.3, 0.1, 0.99, 0.9, 0.3, 0.5],
        }
    )  # model A: 0.7 / 0.2 on donor A; model B: 0.9 / 0.3 on donor B (val rows are not its unseen donor)
    return CrossFit.from_predictions(predictions)


def test_cross_fitted_pacc_by_hand():
    fit = crossfit()
    assert list(fit.donors) == ["A", "B"]
    assert fit.rates() == pytest.approx(np.array([[0.7, 0.2], [0.9, 0.3]]))
    lot = np.array([[0.7, 0.9], [0.2, 0.5]])  # model A's mean 0.45, model B's 0.7
    # A ratio of means: ((0.45 - 0.2) + (0.7 - 0.3)) / ((0.7 - 0.2) + (0.9 - 0.3)) = 0.65 / 1.1, not the
    # mean of model A's 0.5 and model B's 2/3.
    assert fit.estimate(lot) == pytest.approx(0.65 / 1.1)
    # Resampling only the donors draws model A's (0.5), model B's (2/3) or both (0.65 / 1.1), each one's
    # distance from the full estimate scaled by sqrt(2 / 1), the small-sample correction for two donors.
    values = np.unique(np.round(fit.bootstrap(lot, 200, parts=("donors",)), 10))
    full = 0.65 / 1.1
    expected = [full + np.sqrt(2) * (0.5 - full), full, full + np.sqrt(2) * (2 / 3 - full)]
    assert values == pytest.approx(np.round(expected, 10))
    # The interval resamples the lot and the donors; the donors' own cells only split the donors' part.
    both = fit.bootstrap(lot, 300, seed=4)
    assert both == pytest.approx(fit.bootstrap(lot, 300, seed=4, parts=("lot", "donors")))
    parts = fit.variance_parts(lot, 300, seed=4)
    between = np.var(fit.bootstrap(lot, 300, seed=6, parts=("donors",)))
    assert set(parts) == {"lot", "reference", "donors"} and parts["lot"] > 0
    assert parts["reference"] + parts["donors"] == pytest.approx(between)
    assert 0 <= parts["reference"] <= between
    with pytest.raises(ValueError, match="from each of the 2 leave-one-donor-out models \\(A, B\\)"):
        fit.estimate(lot[:, :1])


def test_cross_fitted_pacc_pools_the_gaps_before_dividing():
    """Two models whose donors measured the same classifier's gap 0.4 as 0.3 and 0.5 (cell noise): a lot
    of positives only (mean 0.7 to both) is read 1.0 by the ratio of means, not the 1.07 of the mean of
    ratios (Jensen: 1 / gap is convex, so noise in a lone donor's gap reads high above the negatives'
    rate and low below it: a slope against the true fraction)."""
    from morphopotency.prevalence import CrossFit

    fit = CrossFit(
        np.array(["A", "B"], dtype=object),
        (np.array([1, 0]), np.array([1, 0])),
        (np.array([0.6, 0.3]), np.array([0.8, 0.3])),
    )
    assert fit.estimate(np.full((4, 2), 0.7)) == pytest.approx(1.0)
    assert fit._raw(fit.rates(), np.full((4, 2), 0.5), np.ones(4), np.arange(2)) == pytest.approx(0.5)
    # A lot consistent with each model's own rates at 0.25 reads 0.25 whatever the gaps.
    lot = np.array([[0.6, 0.8]] + [[0.3, 0.3]] * 3)
    assert fit.estimate(lot) == pytest.approx(0.25)


def test_models_that_do_not_separate_the_classes_give_no_interval_and_no_cell_count():
    """Both models score their unseen donor's negatives above its positives (a tiny or failed model): no
    estimate, no interval, variance parts NaN without numpy's empty-mean warnings, and no number of lot
    cells that would reach +/- 0.05 (-1), in the per-donor row and in the precision table alike."""
    import warnings

    from morphopotency.prevalence import CrossFit, cross_cells_needed
    from morphopotency.score.donors import precision_parts

    fit = CrossFit(
        np.array(["A", "B"], dtype=object),
        (np.array([1, 1, 0, 0]), np.array([1, 1, 0, 0])),
        (np.array([0.2, 0.3, 0.6, 0.7]), np.array([0.4, 0.4, 0.5, 0.5])),
    )
    lot = np.full((6, 2), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parts = fit.variance_parts(lot, 50, seed=1)
        assert np.isnan(fit.estimate(lot)) and np.isnan(fit.interval(lot, 50)).all()
    assert np.isnan(parts["lot"]) and np.isnan(parts["donors"])
    assert cross_cells_needed(parts, 6, 0.05) == -1
    # One part NaN alone (the full pool separates nothing, some resamples of donors' cells might) is enough.
    assert cross_cells_needed({"lot": np.nan, "reference": 0.0, "donors": 0.0}, 6, 0.05) == -1
    assert cross_cells_needed({"lot": 1e-4, "reference": 0.0, "donors": 0.0}, 100, 0.05) > 0
    scores = pd.DataFrame({"donor": ["X"], "cells": [6], **{f"variance_{p}": [v] for p, v in parts.items()}})
    table = precision_parts(scores)
    assert table[["cells_for_pm005", "cells_for_pm010"]].to_numpy().tolist() == [[-1, -1]]


def test_cross_fitted_intervals_reach_the_bounds_without_piling_on_them():
    """A lot read above 1 unclipped: the estimate is clipped to 1, and the interval is the clipped
    percentile interval of the unclipped spread, so it still reaches below 1 where the spread does."""
    fit = crossfit()
    rng = np.random.default_rng(0)
    lot = np.column_stack([rng.uniform(0.55, 0.95, 300), rng.uniform(0.75, 1.0, 300)])
    low, high = fit.interval(lot, 400)
    assert fit.estimate(lot) == 1.0 and high == 1.0 and low < 1.0


def test_a_donor_without_a_class_gives_no_estimate_of_its_own():
    from morphopotency.prevalence import CrossFit

    fit = CrossFit(
        np.array(["A", "B"], dtype=object),
        (np.array([1, 0]), np.array([1, 1])),
        (np.array([0.8, 0.2]), np.array([0.9, 0.7])),
    )
    assert np.isnan(fit.rates()[1, 1])
    assert fit.estimate(np.array([[0.5, 0.1]])) == pytest.approx((0.5 - 0.2) / 0.6)  # model A alone


def test_cross_fitted_pacc_weights_cells_by_their_edge_correction():
    """Rates and the lot's mean are weighted means: a cell of weight 3 counts as three. Model A's
    positives 0.8 (weight 3) and 0.4 (weight 1) give 0.7; its negative 0.2. A lot of 0.7 (weight 1) and
    0.2 (weight 1) reads 0.45 -> (0.45 - 0.2) / 0.5 = 0.5; weighted 3 to 1 towards the first, 0.575 ->
    0.75."""
    from morphopotency.prevalence import CrossFit

    predictions = pd.DataFrame(
        {
            "held_out": ["A"] * 3,
            "role": ["test"] * 3,
            "label": [1, 1, 0],
            "prob": [0.8, 0.4, 0.2],
            "cell": [10, 11, 12],
        }
    )
    fit = CrossFit.from_predictions(predictions, pd.Series({10: 3.0, 11: 1.0, 12: 2.0}))
    assert fit.rates() == pytest.approx(np.array([[0.7, 0.2]]))
    assert fit.unweighted().rates() == pytest.approx(np.array([[0.6, 0.2]]))
    lot = np.array([[0.7], [0.2]])
    assert fit.estimate(lot) == pytest.approx(0.5)
    assert fit.estimate(lot, np.array([3.0, 1.0])) == pytest.approx(0.75)
    # The lot's weights travel with its cells through the bootstrap: a draw holds the first cell twice
    # (1.0), the second twice (0.0), or both, weighted (0.75; unweighted it would be 0.5).
    values = fit.bootstrap(lot, 200, parts=("lot",), lot_weight=np.array([3.0, 1.0]))
    assert set(np.round(values, 10)) == {0.0, 0.75, 1.0}
    with pytest.raises(ValueError, match="edge weight is missing"):
        CrossFit.from_predictions(predictions, pd.Series({10: 3.0, 11: 1.0}))
    with pytest.raises(ValueError, match="one positive, finite edge weight per cell"):
        fit.estimate(lot, np.array([1.0, 0.0]))
