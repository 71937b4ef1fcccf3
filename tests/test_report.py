"""Donor report library: per-donor measures from small tables worked by hand, exact Spearman p-values,
sentences, the self-contained HTML and the provenance helpers."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from morphopotency.provenance import config_hash, git_commit, package_versions, run_span
from morphopotency.report.agreement import agreement_table, donor_sentences, spearman_exact
from morphopotency.report.build import content_sections, provenance_section
from morphopotency.report.choices import beyond_paper, reproducibility
from morphopotency.report.donor_table import (
    Unavailable,
    cell_shape_means,
    cnn_fraction,
    differentiation_score,
    donor_summary,
    mean_correlation,
    pc1_by_donor,
    shape_mode_fractions,
    stem_sample_donors,
    unavailable,
)
from morphopotency.report.html import Section, embed_png, render_caption, render_report
from morphopotency.report.simulation import simulation_check

SAMPLES = pd.DataFrame(
    {
        "sample": ["A", "B", "C", "DA", "DB"],
        "donor": ["a", "b", "c", "a", "b"],
        "condition": ["stem", "stem", "stem", "differentiated", "differentiated"],
        "rnaseq_column": ["A", "B", "C", "DA", "DB"],
    }
)


def test_stem_and_differentiated_samples_map_to_donors():
    assert stem_sample_donors(SAMPLES) == {"A": "a", "B": "b", "C": "c"}
    assert stem_sample_donors(SAMPLES, "differentiated") == {"DA": "a", "DB": "b"}


def test_shape_mode_fractions_by_mode_means():
    distribution = pd.DataFrame({"donor": ["a", "b"], "1": [0.5, 0.1], "2": [0.3, 0.2], "3": [0.2, 0.7]})
    modes = pd.DataFrame({"mode": [1, 2, 3], "circularity": [0.9, 0.6, 0.4], "aspect_ratio": [1.1, 1.6, 3.0]})
    out = shape_mode_fractions(distribution, modes, round_circularity=0.8, elongated_aspect_ratio=2.0)
    assert out.loc["a", "round_mode_fraction"] == 0.5 and out.loc["b", "elongated_mode_fraction"] == 0.7
    assert out.loc["a", "round_modes"] == "1" and out.loc["a", "elongated_modes"] == "3"  # mode 2 is neither


def test_transcriptome_measures_per_donor():
    stems = stem_sample_donors(SAMPLES)
    scores = pd.DataFrame({"sample": ["A", "B", "C", "DA"], "PC1": [1.0, -2.0, 3.0, 9.0]})
    assert pc1_by_donor(scores, stems).to_dict() == {"a": 1.0, "b": -2.0, "c": 3.0}
    corr = pd.DataFrame(
        {"sample": ["A", "B", "C"], "A": [1, 0.9, 0.8], "B": [0.9, 1, 0.7], "C": [0.8, 0.7, 1]}
    )
    assert mean_correlation(corr, stems).to_dict() == pytest.approx({"a": 0.85, "b": 0.8, "c": 0.75})
    heat = pd.DataFrame(
        {
            "term": ["osteoblast differentiation (GO:1)", "ribosome (GO:2)", "Ossification (GO:3)"],
            "DA": [2.0, 50.0, 4.0],
            "DB": [0.0, 0.0, 1.0],
        }
    )
    score = differentiation_score(
        heat, stem_sample_donors(SAMPLES, "differentiated"), "differentiation|ossification"
    )
    assert score.to_dict() == {"a": 3.0, "b": 0.5}  # ribosome left out, case ignored
    missing = differentiation_score(heat, {"DA": "a"}, "adipo")  # another lineage: no term matches
    assert isinstance(missing, Unavailable) and missing.measure == "differentiation_score"
    assert "report.differentiation_terms 'adipo'" in missing.reason and "ribosome (GO:2)" in missing.reason
    summary = donor_summary([pd.Series({"a": 1.0, "b": 3.0}, name="pc1_score"), missing]).set_index("donor")
    assert summary["differentiation_score"].isna().all() and "rank_differentiation_score" not in summary
    assert (summary["differentiation_score_note"] == missing.reason).all()
    assert summary["rank_pc1_score"].tolist() == [2, 1]  # every other measure is reported
    assert unavailable([missing]).to_dict("records") == [
        {"measure": "differentiation_score", "reason": missing.reason}
    ]


def test_a_cnn_table_without_donor_fractions_is_unavailable_with_its_reason():
    reason = "no donor groups: cnn.data.folder has no metadata.tsv, so every file is its own group"
    missing = cnn_fraction(pd.DataFrame({"reason": [reason]}), "cross_validated")
    assert isinstance(missing, Unavailable) and missing.measure == "cnn_multipotent_fraction"
    assert missing.reason.endswith(reason)


def test_summary_joins_and_ranks_highest_first():
    cells = pd.DataFrame(
        {
            "donor": ["a", "a", "b", "c"],
            "circularity": [0.8, 0.6, 0.5, 0.9],
            "aspect_ratio": [1.0, 2.0, 3.0, 1.0],
        }
    )
    donors = pd.DataFrame(
        {
            "donor": ["a", "b", "c"],
            "cv_predicted_fraction": [0.2, 0.6, 0.4],
            "cv_ci_low": [0.1, 0.5, 0.3],
            "cv_ci_high": [0.3, 0.7, 0.5],
            "predicted_multipotent_fraction": [0.9, 0.1, 0.5],
            "ci_low": [0.8, 0.0, 0.4],
            "ci_high": [1.0, 0.2, 0.6],
        }
    )
    summary = donor_summary(
        [
            cell_shape_means(cells),
            cnn_fraction(donors, "cross_validated"),
            pd.Series({"a": 1.0, "b": 3.0}, name="pc1_score"),
        ]
    )
    row = summary.set_index("donor")
    assert row.loc["a", "cells"] == 2 and row.loc["a", "mean_circularity"] == pytest.approx(0.7)
    imaged = cell_shape_means(cells, ["a", "b", "c", "empty"])  # a donor whose images held no cell
    assert (
        imaged.loc["empty", "cells"] == 0
        and pd.isna(imaged.loc["empty", "mean_circularity"])
        and imaged.loc["a", "cells"] == 2
    )
    assert list(row["rank_cnn_multipotent_fraction"]) == [3, 1, 2]
    assert (
        pd.isna(row.loc["c", "pc1_score"])
        and pd.isna(row.loc["c", "rank_pc1_score"])
        and row.loc["b", "rank_pc1_score"] == 1
    )
    assert cnn_fraction(donors, "final")["cnn_multipotent_fraction"].tolist() == [0.9, 0.1, 0.5]
    with pytest.raises(ValueError, match="report.cnn_fraction"):
        cnn_fraction(donors, "both")


def test_spearman_exact_p_values_by_enumeration():
    perfect = spearman_exact(np.arange(5), np.arange(5))
    assert (
        perfect["rho"] == pytest.approx(1)
        and perfect["p_value"] == pytest.approx(2 / 120)
        and perfect["p_floor"] == pytest.approx(2 / 120)
    )
    # One adjacent swap: rho = 1 - 6*2/120 = 0.9. |rho| >= 0.9 needs sum d^2 <= 2: the identity and the 4
    # adjacent swaps, and their 5 reversals, so p = 10/120.
    swapped = spearman_exact([1, 2, 3, 4, 5], [2, 1, 3, 4, 5])
    assert swapped["rho"] == pytest.approx(0.9) and swapped["p_value"] == pytest.approx(10 / 120)
    assert spearman_exact([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])["rho"] == pytest.approx(-1)
    assert np.isnan(spearman_exact([1, 2], [1, 2])["rho"]) and np.isnan(
        spearman_exact([1, 1, 1], [1, 2, 3])["p_value"]
    )
    assert spearman_exact(np.arange(12), np.arange(12))["method"].startswith("Monte Carlo")


def test_agreement_uses_donors_with_both_and_sentences_read_the_numbers():
    summary = donor_summary(
        [
            pd.DataFrame(
                {
                    "cnn_multipotent_fraction": [0.6, 0.3, 0.2, 0.5],
                    "cnn_ci_low": [0.5, 0.2, 0.1, 0.4],
                    "cnn_ci_high": [0.7, 0.4, 0.3, 0.6],
                },
                index=list("abcd"),
            ),
            pd.Series({"a": 9.0, "b": 1.0, "c": -3.0}, name="pc1_score"),
        ]
    )
    table = agreement_table(summary, ["cnn_multipotent_fraction"], ["pc1_score", "absent"])
    assert (
        len(table) == 1
        and table.loc[0, "donor_list"] == "a,b,c"
        and table.loc[0, "donors"] == 3
        and table.loc[0, "rho"] == pytest.approx(1)
    )
    sentences = donor_sentences(summary, "cnn_multipotent_fraction", ["pc1_score"]).set_index("donor")[
        "sentence"
    ]
    assert (
        sentences["a"]
        == "a: highest CNN-predicted multipotent fraction (0.60, 95 % CI 0.50-0.70); RNA-seq PC1 score: "
        "highest (9)."
    )
    assert (
        "lowest CNN-predicted" in sentences["c"]
        and "d: rank 2 of 4" in sentences["d"]
        and "PC1" not in sentences["d"]
    )


def test_simulation_check_errors_against_realised():
    truth = pd.DataFrame(
        {
            "donor": ["a", "b", "c"],
            "planted_fraction": [0.2, 0.5, 0.8],
            "realised_fraction": [0.25, 0.5, 0.75],
        }
    )
    summary = pd.DataFrame({"donor": ["a", "b", "c"], "ssea3_positive_fraction": [0.3, 0.4, 0.9]})
    check = simulation_check(truth, summary).set_index("donor")
    assert check["ssea3_positive_fraction_abs_error"].to_dict() == pytest.approx(
        {"a": 0.05, "b": 0.1, "c": 0.15}
    )
    assert check["ssea3_positive_fraction_spearman_vs_planted"].iloc[0] == pytest.approx(1)


def _png(path, width=3):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width, 1))
    fig.savefig(path)
    plt.close(fig)
    return path


def test_html_embeds_figures_renders_captions_and_refuses_external_links(tmp_path):
    (tmp_path / "cap.rst").write_text(
        'Threshold {{ snakemake.config["cnn"]["threshold"] }}; ``code`` & <b>not html</b>.\n'
    )
    (tmp_path / "t.tsv").write_text("donor\tvalue\nS1\t0.123456\n")
    specs = [
        {
            "id": "one",
            "title": "One",
            "figures": [{"path": str(_png(tmp_path / "f.png")), "caption": "cap.rst"}],
            "tables": [{"path": str(tmp_path / "t.tsv"), "caption": None, "rows": 5}],
        }
    ]
    sections = content_sections(specs, {"cnn": {"threshold": 0.5}}, tmp_path)
    page = render_report("Title", "sub <x>", sections)
    assert (
        page.count('src="data:image/png;base64,') == 1
        and "Threshold 0.5" in page
        and "&lt;b&gt;not html" in page
    )
    assert '<section id="one">' in page and "0.123" in page and "sub &lt;x&gt;" in page
    bad = Section(id="x", title="x", text='<img src="https://example.org/a.png">')
    with pytest.raises(ValueError, match="external resources"):
        render_report("t", "s", [bad])
    with pytest.raises(ValueError, match="t.tsv: not a PNG"):
        embed_png(tmp_path / "t.tsv")
    (tmp_path / "broken.rst").write_text("{{ snakemake.config['nope']['x'] }}")
    with pytest.raises(Exception, match="nope"):
        render_caption(tmp_path / "broken.rst", {})


def test_provenance_helpers(tmp_path):
    assert (
        config_hash({"a": 1, "b": [1, 2]})
        == config_hash({"b": [1, 2], "a": 1})
        != config_hash({"a": 2, "b": [1, 2]})
    )
    versions = package_versions(["pandas", "surely-not-installed-pkg"]).set_index("package")["version"]
    assert versions["pandas"] == pd.__version__ and versions["surely-not-installed-pkg"] == "not installed"
    assert git_commit(tmp_path) == "not a git checkout"
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True)
    subprocess.run(
        ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "m"],
        check=True,
    )
    commit = git_commit(tmp_path)
    assert len(commit) == 40
    (tmp_path / "f").write_text("y")
    assert git_commit(tmp_path) == commit + " +uncommitted changes"
    (tmp_path / "a.log").write_text(
        "2026-01-01 10:00:00,1 INFO start\nno stamp\n2026-01-01 10:02:30,0 INFO end\n"
    )
    (tmp_path / "b.log").write_text("2026-01-01 09:59:00,5 INFO other job\n")
    span = run_span([tmp_path / "a.log", tmp_path / "b.log"])
    assert span == {"started": "2026-01-01 09:59:00", "finished": "2026-01-01 10:02:30", "duration_s": 210.0}
    assert run_span([])["started"] == "unknown"


def test_choices_follow_the_config():
    paper = beyond_paper({"cnn": {"group_by": "none", "threshold": 0.5}, "imaging": {"crop_window": None}})
    assert any("at random, as the paper did" in n for n in paper) and not any("window" in n for n in paper)
    assert any("fixed at P 0.5" in n for n in paper) and not any("validation cells" in n for n in paper)
    imaging = {"crop_window": 128, "ssea3_region": "inner"}
    ours = beyond_paper({"cnn": {"group_by": "image", "bootstrap": 500}, "imaging": imaging})
    assert (
        any("validation cells (maximising" in n for n in ours)
        and any("grouped by image" in n for n in ours)
        and any("128-px window" in n for n in ours)
        and any("500 resamples" in n for n in ours)
        and any("SSEA3 over its inner half" in n for n in ours)
    )
    assert not any("inner half" in n for n in paper)
    assert any(n.startswith("Scorers beside the CNN") for n in ours)
    no_lodo = beyond_paper({"cnn": {"lodo": False}, "imaging": imaging})
    assert not any("Scorers" in n for n in no_lodo)
    assert not any("Cross-validation" in n for n in beyond_paper({"cnn": {"enabled": False}}))
    assert not any("Cellpose" in n for n in ours)
    learned = beyond_paper(
        {"imaging": {"segmenter": "cellpose", "cellpose": {"model": "cyto3", "diameter": 30}}}
    )
    assert any("Cellpose (model cyto3, cell diameter 30 px)" in n for n in learned)


def test_the_report_says_what_a_rerun_repeats():
    gpu = reproducibility({"cnn": {"device": "auto"}})
    assert "byte-identical" in gpu and "not bit-for-bit repeatable" in gpu and "cnn.device is auto" in gpu
    assert "does not apply here" in reproducibility({"cnn": {"device": "cpu"}})
    assert "GPU" not in reproducibility({"cnn": {"enabled": False}})
    section = provenance_section(
        {"cnn": {"device": "cuda:1"}},
        "h",
        "c",
        pd.DataFrame({"package": []}),
        pd.DataFrame({"path": []}),
        {"started": "s", "finished": "f", "duration_s": 60.0},
        "now",
    )
    assert "cnn.device is cuda:1" in section.text


def test_adjusted_fractions_never_use_the_donors_own_labels():
    from morphopotency.cnn.donors import adjusted_fractions

    rng = np.random.default_rng(3)
    labels = (rng.uniform(size=600) < 0.5).astype(int)
    prob = np.clip(rng.normal(np.where(labels == 1, 0.65, 0.35), 0.15), 0, 1)
    cv = pd.DataFrame(
        {"donor": np.repeat(["a", "b", "c"], 200), "label": labels, "prob": prob, "threshold": 0.5}
    )
    first = adjusted_fractions(cv, n_boot=50).set_index("donor")
    relabelled = cv.assign(label=np.where(cv["donor"] == "a", 1 - cv["label"], cv["label"]))
    second = adjusted_fractions(relabelled, n_boot=50).set_index("donor")
    assert first.loc["a", "cv_pacc_fraction"] == second.loc["a", "cv_pacc_fraction"]  # a's labels unused
    assert first.loc["b", "cv_pacc_fraction"] != second.loc["b", "cv_pacc_fraction"]  # but b's reference
    assert (first["cv_acc_low"] <= first["cv_acc_fraction"]).all() and (first["cells_for_pm005"] > 0).all()
    adjusted = cnn_fraction(first.reset_index(), "adjusted")
    assert adjusted["cnn_multipotent_fraction"].tolist() == first["cv_pacc_fraction"].tolist()


def test_fraction_validation_by_hand():
    from morphopotency.cnn.donors import fraction_validation

    table = pd.DataFrame(
        {
            "ssea3_positive_fraction": [0.2, 0.5, 0.8],
            "cv_predicted_fraction": [0.3, 0.5, 0.6],
            "cv_ci_low": [0.25, 0.4, 0.5],
            "cv_ci_high": [0.35, 0.6, 0.7],
            "cv_pacc_fraction": [0.2, 0.55, 0.8],
            "cv_pacc_low": [0.1, 0.45, 0.7],
            "cv_pacc_high": [0.3, 0.65, 0.9],
        }
    )
    result = fraction_validation(table).set_index("estimator")
    cc, pacc = result.loc["cc (cross-validated)"], result.loc["pacc (cross-validated)"]
    assert cc["mean_abs_error"] == pytest.approx(0.1) and cc["max_abs_error"] == pytest.approx(0.2)
    assert cc["mean_signed_error"] == pytest.approx(-1 / 30) and cc["intervals_covering"] == 1
    assert pacc["mean_abs_error"] == pytest.approx(0.05 / 3) and pacc["intervals_covering"] == 3
    assert pacc["spearman_rho"] == pytest.approx(1.0) and "acc (cross-validated)" not in result.index
