"""The replicated study's arithmetic on hand-worked lots (the study itself is bench/score_study.py)."""

import numpy as np
import pandas as pd
import pytest

from morphopotency.prevalence import Reference, bootstrap_interval, estimate
from morphopotency.score.study import coverage_curve, error_table, hold_rates, lot_estimates, segmented_truth


def test_a_segmented_cell_takes_the_class_of_the_planted_cell_under_its_centroid():
    mask = np.zeros((10, 10), int)
    mask[1:4, 1:4], mask[6:9, 6:9] = 1, 2
    cells = pd.DataFrame(
        {"image": "f1", "centroid_row": [2.2, 7.0, 5.0], "centroid_col": [1.6, 7.4, 5.0]}
    )  # the third centroid lies on background: no planted cell, left out
    planted = pd.DataFrame({"image": "f1", "cell_id": [1, 2], "multipotent": [True, False]})
    assert segmented_truth(cells, {"f1": mask}, planted) == (0.5, 2)


def test_lot_estimates_draw_every_level_from_one_bootstrap():
    reference = Reference(np.array([1, 1, 0, 0]), np.array([0.9, 0.7, 0.3, 0.1]), 0.5, 0.5)
    prob = np.array([0.9, 0.8, 0.2, 0.7, 0.1])
    table = lot_estimates(reference, prob, ["cc", "pacc"], levels=(0.5, 0.95), n_boot=200).set_index(
        "estimator"
    )
    assert table.loc["pacc", "estimate"] == pytest.approx(estimate("pacc", reference, prob))
    low, high = bootstrap_interval("pacc", reference, prob, n_boot=200, level=0.95)
    assert (table.loc["pacc", "low_0.95"], table.loc["pacc", "high_0.95"]) == pytest.approx((low, high))
    assert table.loc["cc", "low_0.95"] <= table.loc["cc", "low_0.5"] <= table.loc["cc", "high_0.5"]


def lots(errors_by_cohort, truths):
    rows = []
    for cohort, errors in enumerate(errors_by_cohort):
        for lot, (error, truth) in enumerate(zip(errors, truths)):
            rows.append(
                {
                    "cohort": cohort,
                    "lot": lot,
                    "estimator": "x",
                    "truth": truth,
                    "estimate": truth + error,
                    "low_0.95": truth + error - 0.1,
                    "high_0.95": truth + error + 0.1,
                    "low_0.5": truth + error - 0.02,
                    "high_0.5": truth + error + 0.02,
                }
            )
    return pd.DataFrame(rows)


def test_error_table_by_hand():
    truths = [0.1, 0.5, 0.9]
    table = error_table(lots([[0.05, 0.0, -0.05], [0.15, 0.0, -0.15]], truths), n_boot=300).iloc[0]
    assert table["lots"] == 6 and table["cohorts"] == 2
    assert table["mean_signed_error"] == pytest.approx(0.0, abs=1e-12)
    assert table["mean_abs_error"] == pytest.approx(0.4 / 6) and table["max_abs_error"] == pytest.approx(0.15)
    # error = -0.125 (truth - 0.5) in cohort 0 and -0.375 (truth - 0.5) in cohort 1: pooled slope -0.25
    assert table["slope"] == pytest.approx(-0.25)
    assert table["slope_ci_low"] == pytest.approx(-0.375) and table["slope_ci_high"] == pytest.approx(-0.125)
    # Half-widths 0.1: the lots 0.15 off are not covered, one at each end of the range.
    assert table["coverage_95"] == pytest.approx(4 / 6) and table["mean_half_width"] == pytest.approx(0.1)
    assert table["coverage_0-0.2"] == 0.5 and table["coverage_0.2-0.8"] == 1.0 and table["lots_0.8-1"] == 2
    curve = coverage_curve(lots([[0.05, 0.0, -0.05], [0.15, 0.0, -0.15]], truths), (0.5, 0.95))
    curve = curve.set_index("nominal")
    assert curve.loc[0.5, "observed"] == pytest.approx(2 / 6) and curve.loc[
        0.95, "observed"
    ] == pytest.approx(4 / 6)


def test_an_offset_shared_by_a_cohort_widens_the_bias_interval():
    """Two cohorts whose lots all read +0.1 and -0.1: the interval is Student's t on the two cohort means
    (sd 0.1 * sqrt(2), standard error 0.1, one degree of freedom), not the narrow one of twelve
    independent lots; three cohorts at +0.1, 0 and -0.1: standard error 0.1 / sqrt(3), two degrees."""
    from scipy.stats import t

    table = error_table(lots([[0.1] * 6, [-0.1] * 6], np.linspace(0.1, 0.9, 6)), n_boot=400).iloc[0]
    assert table["mse_ci_low"] == pytest.approx(-0.1 * t.ppf(0.975, 1))
    assert table["mse_ci_high"] == pytest.approx(0.1 * t.ppf(0.975, 1))
    three = error_table(lots([[0.1] * 4, [0.0] * 4, [-0.1] * 4], np.linspace(0.1, 0.9, 4)), n_boot=50).iloc[0]
    assert three["mse_ci_high"] == pytest.approx(t.ppf(0.975, 2) * 0.1 / np.sqrt(3))
    # One cohort: its lots resampled; lots 0.05 and 0.15 off bound the interval.
    one = error_table(lots([[0.05, 0.15]], [0.2, 0.6]), n_boot=400).iloc[0]
    assert one["mse_ci_low"] == pytest.approx(0.05) and one["mse_ci_high"] == pytest.approx(0.15)


def test_each_cohorts_shared_error_is_measured_against_what_its_intervals_allow():
    """Cohort 0 reads 0.05 high at every lot, cohort 1 0.15 high: shared errors. With reference and donor
    variance 0.0016 and 0.0009 (sd 0.05) they are 1 and 3 of what the intervals allow; cohort 1's lots,
    0.15 off with half-widths 0.1, are not covered."""
    from morphopotency.score.study import cohort_errors

    table = lots([[0.05, 0.05, 0.05], [0.15, 0.15, 0.15]], [0.1, 0.5, 0.9])
    table = table.assign(variance_reference=0.0016, variance_donors=0.0009)
    by_cohort = cohort_errors(table).set_index("cohort")
    assert by_cohort["mean_signed_error"].tolist() == pytest.approx([0.05, 0.15])
    assert by_cohort["slope"].tolist() == pytest.approx([0.0, 0.0], abs=1e-12)
    assert by_cohort["coverage_95"].tolist() == [1.0, 0.0] and by_cohort["lots"].tolist() == [3, 3]
    assert by_cohort["shared_sd"].tolist() == pytest.approx([0.05, 0.05])
    assert by_cohort["z"].tolist() == pytest.approx([1.0, 3.0])
    assert cohort_errors(lots([[0.05, 0.05]], [0.1, 0.5]))["z"].isna().all()  # no variance parts: unknown
    # With a lot part of 0.003 a lot, the mean of three lots carries 0.001 of it: sd sqrt(0.0035).
    with_lots = cohort_errors(table.assign(variance_lot=0.003)).set_index("cohort")
    assert with_lots["z"].tolist() == pytest.approx([0.05 / np.sqrt(0.0035), 0.15 / np.sqrt(0.0035)])
    assert with_lots["shared_sd"].tolist() == pytest.approx([0.05, 0.05])
    named = table.assign(cohort=table["cohort"].map({0: "cohort10", 1: "cohort2"}))
    assert cohort_errors(named)["cohort"].tolist() == ["cohort2", "cohort10"]  # by number, not by text


def test_the_cohorts_shared_errors_are_tested_against_a_chi_square():
    from scipy.stats import chi2

    from morphopotency.score.study import shared_calibration

    # z of +1, -1 and +2: sum of squares 6 on 3 degrees of freedom, in the upper tail.
    result = shared_calibration(pd.DataFrame({"z": [1.0, -1.0, 2.0, np.nan]}))
    assert result["cohorts"] == 3 and result["rms_z"] == pytest.approx(np.sqrt(2))
    assert result["chi2"] == pytest.approx(6.0) and result["p"] == pytest.approx(2 * chi2.sf(6.0, 3))
    # Far too small: the lower tail, so intervals too wide also show.
    assert shared_calibration(pd.DataFrame({"z": [0.01, 0.01, 0.01]}))["p"] == pytest.approx(
        2 * chi2.cdf(0.0003, 3)
    )
    assert shared_calibration(pd.DataFrame({"z": [np.nan]}))["cohorts"] == 0


def test_errors_are_measured_in_units_of_each_lots_own_interval_by_band():
    """Lots whose parts add to 0.0025 (sd 0.05): the two in 0-0.2 are 0.05 and 0.10 off (z 1 and 2, rms
    sqrt(2.5)), the two in 0.2-0.8 are 0.025 off (z 0.5), the one at 0.9 is exact."""
    from morphopotency.score.study import band_calibration

    table = lots([[0.05, 0.025, 0.0], [0.10, -0.025]], [0.1, 0.5, 0.9]).assign(
        variance_lot=0.0015, variance_reference=0.0006, variance_donors=0.0004
    )
    by_band = band_calibration(table, n_boot=300).set_index("band")
    assert by_band.loc["0-0.2", "rms_z"] == pytest.approx(np.sqrt(2.5)) and by_band.loc["0-0.2", "lots"] == 2
    assert 1.0 <= by_band.loc["0-0.2", "ci_low"] <= by_band.loc["0-0.2", "ci_high"] <= 2.0
    assert by_band.loc["0.2-0.8", "rms_z"] == pytest.approx(0.5)
    assert by_band.loc["0.8-1", "rms_z"] == pytest.approx(0.0)
    assert by_band.loc["all", "rms_z"] == pytest.approx(np.sqrt((1 + 4 + 0.25 + 0.25 + 0) / 5))
    assert band_calibration(lots([[0.05]], [0.1])).empty  # no variance parts: nothing to measure against


def test_hold_rates_count_false_holds_and_caught_drifts():
    table = hold_rates(
        pd.DataFrame(
            {"drift": ["", "", "", "blur 2.5", "pixel 0.6 um"], "held": [False, True, False, True, True]}
        )
    ).set_index("drift")
    assert table.loc["none (clean lot)", "share_held"] == pytest.approx(1 / 3)
    assert table.loc["blur 2.5", "share_held"] == 1.0 and table.loc["pixel 0.6 um", "lots"] == 1


def test_the_reports_quote_the_published_study_and_say_where_it_comes_from(tmp_path):
    import json

    from morphopotency.report.study import STUDY, STUDY_META, read_study, study_files, study_sentence

    assert study_files(tmp_path) == []  # nothing published: the reports say so
    (tmp_path / STUDY).parent.mkdir(parents=True)
    row = {
        "estimator": "pacc_cross",
        "lots": 30,
        "mean_signed_error": -0.004,
        "mse_ci_low": -0.02,
        "mse_ci_high": 0.011,
        "mean_abs_error": 0.041,
        "max_abs_error": 0.12,
        "coverage_95": 0.933,
        "mean_half_width": 0.09,
    }
    pd.DataFrame([row]).to_csv(tmp_path / STUDY, sep="\t", index=False)
    meta = {"cohorts": 3, "lots": 30, "reference": "5 donors", "commit": "abc123"}
    (tmp_path / STUDY_META).write_text(json.dumps(meta))
    published = read_study(study_files(tmp_path))
    table, read_meta = published.table, published.meta
    assert published.real is None and published.sentence("pacc_cross") == study_sentence(
        table, read_meta, "pacc_cross"
    )
    sentence = study_sentence(table, read_meta, "pacc_cross")
    assert "commit abc123" in sentence and "3 independent simulated training cohorts" in sentence
    assert "not by this run" in sentence and "-0.004 off on average (95 % CI -0.020 to +0.011)" in sentence
    assert "covered 93% of lots, 0.090 wide" in sentence
    assert study_sentence(table, read_meta, "cc").endswith("the study did not measure cc.")
    # The real-cell arm, where it ran: its own table beside the simulated one, each arm said by name.
    from morphopotency.report.study import STUDY_REAL

    pd.DataFrame([{**row, "mean_signed_error": 0.021}]).to_csv(tmp_path / STUDY_REAL, sep="\t", index=False)
    real_meta = {"cohorts": 4, "lots": 32, "reference": "5 plate donors", "commit": "abc123"}
    (tmp_path / STUDY_META).write_text(json.dumps({**meta, "real": real_meta}))
    both = read_study(study_files(tmp_path))
    assert both.real is not None and [caption for _, caption in both.tables()] == [
        "the replicated study, simulated cohorts (resources/validation)",
        "the replicated study, real-cell cohorts (resources/validation)",
    ]
    said = both.sentence("pacc_cross")
    assert said.startswith(sentence) and "On real cells: Measured" in said
    assert "4 independent real-cell training cohorts of 5 plate donors" in said and "+0.021 off" in said


def study_row(estimator: str, error: float) -> dict:
    return {
        "estimator": estimator,
        "lots": 30,
        "mean_signed_error": error,
        "mse_ci_low": error - 0.01,
        "mse_ci_high": error + 0.01,
        "mean_abs_error": 0.04,
        "max_abs_error": 0.1,
        "slope": -0.02,
        "slope_ci_low": -0.05,
        "slope_ci_high": 0.01,
        "coverage_95": 0.9333,
        "coverage_0-0.2": 1.0,
        "coverage_0.2-0.8": 0.9,
        "coverage_0.8-1": 1.0,
        "mean_half_width": 0.09,
    }


def test_the_documents_quote_the_study_between_their_markers():
    from morphopotency.report.study import QUOTE_END, QUOTE_START, quote_study, quoted_study, study_quote

    table = pd.DataFrame([study_row("cc", -0.06), study_row("pacc_cross", 0.004)])
    meta = {
        "cohorts": 3,
        "lots": 30,
        "reference": "5 donors",
        "commit": "abc123",
        "command": "bench/score_study.py --cohorts 3",
        "deployed": "pacc_cross",
        "variance": {"lot": 0.5, "reference": 0.3, "donors": 0.2},
        "holds": [{"drift": "none (clean lot)", "lots": 30, "held": 1, "share_held": 1 / 30}],
        "by_cohort": [
            {"cohort": "cohort1", "lots": 10, "mean_signed_error": -0.071, "slope": 0.024, "coverage_95": 0.7}
            | {"z": -2.18}
        ],
        "shared_calibration": {"cohorts": 1, "rms_z": 2.18, "chi2": 4.75, "p": 0.058},
        "calibration": [
            {"band": "all", "lots": 10, "rms_z": 1.1, "ci_low": 0.9, "ci_high": 1.3},
            {"band": "0-0.2", "lots": 2, "rms_z": 1.5, "ci_low": 1.0, "ci_high": 2.0},
        ],
        "labels": [
            {"region": "whole", "multipotent": 850, "multipotent_labelled_negative": 48}
            | {"other": 569, "other_labelled_positive": 0}
        ],
    }
    quote = study_quote(table, meta)
    assert (
        "| cc | 30 | -0.060 (-0.070 to -0.050) | 0.040 | 0.100 | -0.020 (-0.050 to +0.010) | 93% |" in quote
    )
    assert "| **pacc_cross** (deployed) | 30 | +0.004 (-0.006 to +0.014)" in quote
    assert "100% / 90% / 100% | 0.090 |" in quote and "lot cells 50%" in quote
    assert "| none (clean lot) (30) | 1 | 3% |" in quote and "at commit abc123" in quote
    assert (
        "that mean: cohort1 -0.071 (-2.2); rms 2.18, chi-square 4.8 on 1 degrees of freedom, p = 0.06"
        in quote
    )
    assert "every lot 1.10 (0.90-1.30; 10 lots), 0-0.2 1.50 (1.00-2.00; 2 lots)." in quote
    assert "over the whole cell, 48 of 850 multipotent cells labelled negative and 0 of 569 others" in quote
    document = f"# Guide\n\nbefore\n{QUOTE_START}\nold table\n{QUOTE_END}\nafter\n"
    quoted = quote_study(document, quote)
    assert quoted_study(quoted) == quote.strip() and quoted.endswith(f"{QUOTE_END}\nafter\n")
    assert quoted.startswith("# Guide\n\nbefore\n") and "old table" not in quoted
    with pytest.raises(ValueError, match="markers"):
        quote_study("no markers here", quote)


def test_readme_and_methods_quote_exactly_the_published_study():
    """What the README and the methods show is the published table, not prose typed after a run; with
    nothing published they show nothing (and the reports say so)."""
    from morphopotency.report.study import QUOTED_IN, quoted_study, read_study, study_files
    from tests.conftest import REPO

    published = read_study(study_files(REPO))
    for document, brief in QUOTED_IN.items():
        quoted = quoted_study((REPO / document).read_text())
        assert quoted == (published.quote(brief).strip() if published else ""), document


def test_labelled_truth_measures_each_cell_as_the_reference_labels_were():
    """Mean SSEA3 over each segmented cell on the 8-bit scale, above the cut: the share the score targets."""
    from morphopotency.score.study import labelled_truth

    labels = np.zeros((4, 4), int)
    labels[:2, :2], labels[2:, 2:], labels[:2, 2:] = 1, 2, 3
    ssea3 = np.zeros((4, 4))
    ssea3[:2, :2] = 100 * 257  # 100 on the 8-bit scale
    ssea3[2:, 2:] = [[80 * 257, 80 * 257], [120 * 257, 0]]  # mean 70: below the cut
    ssea3[:2, 2:] = 95 * 257
    cells = pd.DataFrame({"image": ["a", "a", "a"], "cell_id": [1, 2, 3]})
    share, n = labelled_truth(cells, {"a": labels}, {"a": ssea3}, 65535.0, 90.0)
    assert n == 3 and share == pytest.approx(2 / 3)
    assert labelled_truth(cells.iloc[:1], {"a": labels}, {"a": ssea3}, 65535.0, 100.0) == (0.0, 1)


def test_the_truth_is_weighted_by_the_cells_edge_weights_as_the_estimate_is():
    from morphopotency.score.study import labelled_truth

    labels = np.zeros((4, 4), int)
    labels[:2, :2], labels[2:, 2:] = 1, 2
    ssea3 = np.where(labels == 1, 100 * 257, 10 * 257).astype(float)  # cell 1 positive, cell 2 not
    cells = pd.DataFrame({"image": ["a", "a"], "cell_id": [1, 2], "edge_weight": [3.0, 1.0]})
    assert labelled_truth(cells, {"a": labels}, {"a": ssea3}, 65535.0, 90.0) == (0.75, 2)
    mask = np.zeros((10, 10), int)
    mask[1:4, 1:4], mask[6:9, 6:9] = 1, 2
    centroids = pd.DataFrame(
        {
            "image": "f1",
            "centroid_row": [2.0, 7.0, 5.0],
            "centroid_col": [2.0, 7.0, 5.0],
            "edge_weight": [1, 3, 9],
        }
    )  # the unmatched third cell's weight counts nowhere
    planted = pd.DataFrame({"image": "f1", "cell_id": [1, 2], "multipotent": [True, False]})
    assert segmented_truth(centroids, {"f1": mask}, planted) == (0.25, 2)


def test_the_labelled_truth_reads_each_cell_over_the_region_its_reference_was_labelled_over():
    """A 7 x 7 cell stained at 100 over its inner 5 x 5 and 10 on its outermost ring (an outline one pixel
    past the stain): its inner half (distance to the outline at least the median, 2) reads 100, above the
    cut; the whole cell (25 x 100 + 24 x 10) / 49 = 55.9, below it."""
    from morphopotency.score.study import labelled_truth

    labels = np.zeros((9, 9), int)
    labels[1:8, 1:8] = 1
    ssea3 = np.where(labels == 1, 10 * 257, 0).astype(float)
    ssea3[2:7, 2:7] = 100 * 257
    cells = pd.DataFrame({"image": ["a"], "cell_id": [1]})
    assert labelled_truth(cells, {"a": labels}, {"a": ssea3}, 65535.0, 90.0, "inner") == (1.0, 1)
    assert labelled_truth(cells, {"a": labels}, {"a": ssea3}, 65535.0, 90.0, "whole") == (0.0, 1)


def test_label_agreement_counts_each_regions_labels_against_the_planted_classes():
    """Two segmented 7 x 7 cells over planted cells 1 (multipotent) and 2 (not), both stained only inside
    their inner 5 x 5 (outline one pixel past the stain): cell 1 at 100 reads 55.9 over the whole cell
    (labelled negative) and 100 over its inner half; cell 2 at 80 stays negative either way. A third
    segmented object on planted background is not counted."""
    from morphopotency.score.study import label_agreement

    labels = np.zeros((12, 30), int)
    labels[1:8, 1:8], labels[1:8, 11:18], labels[1:8, 22:29] = 1, 2, 3
    ssea3 = np.where(labels > 0, 10 * 257, 0).astype(float)
    ssea3[2:7, 2:7], ssea3[2:7, 12:17], ssea3[2:7, 23:28] = 100 * 257, 80 * 257, 200 * 257
    mask = np.zeros_like(labels)
    mask[2:7, 2:7], mask[2:7, 12:17] = 1, 2
    planted = pd.DataFrame({"cell_id": [1, 2], "multipotent": [True, False]})
    table = label_agreement(labels, ssea3, mask, planted, 65535.0, 90.0).set_index("region")
    assert table.loc["whole"].to_dict() == {
        "multipotent": 1,
        "multipotent_labelled_negative": 1,
        "other": 1,
        "other_labelled_positive": 0,
    }
    assert table.loc["inner", "multipotent_labelled_negative"] == 0
    assert table.loc["inner", "other_labelled_positive"] == 0


def test_the_scorer_rule_is_checked_against_the_intervals_the_lots_got():
    from morphopotency.score.study import scorer_rule

    evidence = pd.DataFrame(
        {
            "cohort": ["c1"] * 3 + ["c2"] * 3,
            "scorer": ["cnn", "shape", "combined"] * 2,
            "expected_half_width": [0.10, 0.12, 0.08, 0.09, 0.11, 0.10],
            "chosen": [False, False, True, True, False, False],
            "realised_half_width": [0.11, 0.13, 0.09, 0.10, 0.12, 0.08],
            "realised_abs_error": [0.04, 0.05, 0.03, 0.02, 0.06, 0.03],
        }
    )
    rule = scorer_rule(evidence)
    # c1 chose combined, whose lots were narrowest; c2 chose cnn, but combined's were.
    assert rule["cohorts"] == 2 and rule["chose_narrowest"] == 1
    assert rule["by_scorer"]["combined"] == pytest.approx(
        {"expected_half_width": 0.09, "realised_half_width": 0.085, "realised_abs_error": 0.03}
    )
    assert scorer_rule(evidence.iloc[:0]) == {"cohorts": 0}
