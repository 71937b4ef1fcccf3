"""The QC report as a person reads and files it: the lot table (verdict by word and colour, the interval as
a bar against the threshold), the full table collapsed with human names and a glossary, the page at
1,280 x 800 and its PDF. Rendered from fixed tables and a bundle made here: no training, seconds."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import yaml

from morphopotency.config import ConfigError, load_schema, with_defaults
from morphopotency.plots.score import shape_modes_figure
from morphopotency.report.pdf import BROWSERS, find_browser, pdf_planned, print_pdf
from morphopotency.report.readable import (
    SCORE_COLUMNS,
    full_table,
    glossary,
    interval_bar,
    lot_table,
    readable,
    tsv_link,
    verdict_word,
)
from morphopotency.report.score import score_report
from morphopotency.report.study import Study
from morphopotency.score.bundle import export, load, preprocessing_settings
from morphopotency.score.donors import precision_parts, validation, verdict
from tests.conftest import REPO
from tests.test_study import study_row

SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def config_defaults() -> dict:
    return with_defaults(yaml.safe_load((REPO / "config/config.yaml").read_text()), load_schema(SCHEMA))


STUDY_REAL_META = {"cohorts": 3, "lots": 24, "reference": "5 plate donors", "commit": "abc"}


def scores_of(lots: int) -> pd.DataFrame:
    """``lots`` lots, every verdict among them, with every column donor_scores writes."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(lots):
        value = (i + 0.5) / lots
        low, high = max(value - 0.08, 0), min(value + 0.08, 1)
        flags = ["images out of focus (edge sharpness 0.41 x the reference's)"] if i % 5 == 3 else []
        rows.append(
            {
                "donor": f"LOT-2026-{i + 1:03d}",
                "cells": 380 + i,
                "cc_fraction": value,
                "estimator": "pacc",
                "fraction": value,
                "ci_low": low,
                "ci_high": high,
                "cells_for_pm005": 1200 + i,
                **{f"variance_{p}": rng.uniform(0, 0.002) for p in ("lot", "reference", "donors")},
                "ssea3_fraction": np.nan,
                "shape_drift": 0.01,
                "shape_drift_p": 0.4,
                "shape_drift_at": value,
                "embedding_drift": 0.02,
                "embedding_drift_p": 0.3,
                "embedding_drift_at": value,
                "focus_ratio": 0.41 if flags else 1.0,
                "saturated_max": 0.0,
                "pixel_size_ratio": 1.0,
                "imaged_pixel_size_ratio": 1.0,
                "border_share": 0.1,
                "tiny_share": 0.0,
                "merged_share": 0.01,
                "flags": "; ".join(flags),
                "verdict": verdict(low, high, 0.5, flags),
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture()
def report_page(tmp_path):
    """A QC report of 12 lots from a bundle exported here (weights are bytes: nothing is scored)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = config_defaults()
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"\x00weights" * 100)
    meta = {"spec": {"backbone": "resnet18", "image_size": 48}, "threshold": 0.5}
    # The training run's tables a QC report shows: the leave-one-donor-out validation and the scorers.
    lodo = pd.DataFrame(
        {
            "estimator": ["cc", "pacc"],
            "donors": 5,
            "mean_abs_error": [0.09, 0.04],
            "max_abs_error": [0.15, 0.08],
            "mean_signed_error": [-0.01, 0.01],
            "spearman_rho": [0.6, 0.9],
            "intervals_covering": [3, 5],
            "sweep_mean_abs_error": [0.11, 0.05],
            "sweep_bias": [0.07, 0.01],
        }
    )
    scorers = pd.DataFrame(
        {
            "scorer": ["cnn", "shape", "combined"],
            "donors": 5,
            "cells": 500,
            "roc_auc": [0.9, 0.88, 0.93],
            "gap": [0.5, 0.45, 0.6],
            "min_donor_gap": [0.4, 0.35, 0.5],
            "expected_half_width": [0.08, 0.09, 0.07],
            "chosen": [False, False, True],
        }
    )
    export(
        tmp_path / "bundle",
        {"cnn/model.safetensors": weights},
        preprocessing_settings(config, meta, reference_pixel_um=0.8),
        {
            "reference/cells.tsv": pd.DataFrame({"donor": ["S1"], "prob": [0.2]}),
            "metrics/lodo_validation.tsv": lodo,
            "metrics/scorers.tsv": scorers,
        },
        {"config_sha256": "abc", "commit": "deadbeef"},
    )
    bundle = load(tmp_path / "bundle")
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    fig.savefig(tmp_path / "scores.png", dpi=80)
    scores = scores_of(12)
    settings = config["score"] | {"estimator": "pacc"}
    modes = pd.DataFrame({"donor": scores["donor"], **{f"mode_{k}": 0.25 for k in range(1, 5)}})
    reference_modes = pd.DataFrame({"donor": ["S1", "S5"], **{f"mode_{k}": [0.2, 0.3] for k in range(1, 5)}})
    shape_modes_figure(modes, reference_modes).savefig(tmp_path / "modes.png", dpi=80)
    known = validation(scores.assign(ssea3_fraction=scores["fraction"] + 0.02))
    precision = precision_parts(scores)
    study = Study(
        pd.DataFrame([study_row("pacc", 0.01)]),
        {"cohorts": 3, "lots": 30, "reference": "5 donors", "commit": "abc", "real": {**STUDY_REAL_META}},
        pd.DataFrame([study_row("pacc", 0.02)]),
    )
    page = tmp_path / "score_report.html"
    page.write_text(
        score_report(
            scores,
            modes,
            str(tmp_path / "scores.png"),
            bundle,
            settings,
            "2026-12-03",
            known=known,
            precision=precision,
            study=study,
            modes_figure=str(tmp_path / "modes.png"),
        )
    )
    return page, scores, bundle, settings


def test_verdict_words_and_the_interval_bar_by_hand():
    assert verdict_word(verdict(0.6, 0.8, 0.5)) == "accept"
    assert verdict_word(verdict(0.1, 0.3, 0.5)) == "reject"
    assert verdict_word(verdict(0.4, 0.6, 0.5)) == "inconclusive"
    assert verdict_word(verdict(0.6, 0.8, 0.5, ["blurred"])) == "hold"
    assert verdict_word(verdict(np.nan, np.nan, 0.5)) == "no estimate"
    assert verdict_word("something else") == "no estimate"
    bar = interval_bar(0.25, 0.75, 0.5, 0.5, width=104)  # x = 2 + v * 100
    assert '<rect x="27.0" y="3" width="50.0"' in bar and '<circle cx="52.0"' in bar
    assert 'x1="52.0" x2="52.0"' in bar
    empty = interval_bar(np.nan, np.nan, np.nan, 0.5)
    assert "<circle" not in empty and 'aria-label="no estimate, threshold 0.5"' in empty


def test_lot_table_has_one_row_per_lot_with_its_verdict_and_flags_in_words():
    scores = scores_of(5)
    page = lot_table(scores, 0.5)
    rows = re.findall(r'<tr class="lot v-([a-z-]+)"><td class="name">([^<]+)</td>', page)
    assert [name for _, name in rows] == list(scores["donor"])
    assert [word for word, _ in rows] == [verdict_word(v) for v in scores["verdict"]]
    assert "images out of focus" in page and page.count(">none</td>") == 4
    assert '0.70 <span class="ci">(0.62–0.78)</span>' in page  # lot 4: 0.7 +/- 0.08


def test_full_table_names_every_column_and_links_the_tsv():
    scores = scores_of(3).assign(new_measure=1.0)
    names = readable(scores, SCORE_COLUMNS).columns
    assert "Multipotent fraction" in names and "new_measure" in names and "fraction" not in names
    listed = glossary(scores, SCORE_COLUMNS)
    assert listed.count("<dt>") == len(scores.columns)
    assert "no description" in listed  # a column the report does not know says so
    link = tsv_link(scores, "results/score/donor_scores.tsv")
    data = re.search(r'href="data:text/tab-separated-values;base64,([^"]+)"', link).group(1)
    assert base64.b64decode(data).decode() == scores.to_csv(sep="\t", index=False)
    full = full_table(scores_of(11), "x.tsv", SCORE_COLUMNS, "all", per_block=8)
    assert full.count('<table class="measures">') == 2 and full.startswith('<details class="full">')


def test_the_pdf_is_planned_where_chromium_is_and_required_only_when_asked():
    assert pdf_planned("auto", "/usr/bin/chromium") == (True, None)
    planned, note = pdf_planned("auto", None)
    assert not planned and "apt-get install chromium" in note
    assert pdf_planned(False, "/usr/bin/chromium") == (False, None)
    with pytest.raises(ConfigError, match="score.pdf is true"):
        pdf_planned(True, None)


def test_make_demo_ends_on_where_the_pdf_is_or_how_to_get_one(tmp_path):
    from morphopotency.report.pdf import pdf_status

    assert pdf_status(tmp_path, None) == "No QC report: this run scored no lot"
    (tmp_path / "results/report").mkdir(parents=True)
    (tmp_path / "results/report/score_report.html").write_text("<html></html>")
    said = pdf_status(tmp_path, None)
    assert said.startswith("No PDF of the QC report: no Chromium") and "`make browser` installs it" in said
    assert pdf_status(tmp_path, "/usr/bin/chromium").endswith("score.pdf is false in the config")
    (tmp_path / "results/report/score_report.pdf").write_bytes(b"%PDF")
    assert pdf_status(tmp_path, None) == f"QC record written: {tmp_path / 'results/report/score_report.pdf'}"
    makefile = (REPO / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "-m morphopotency.report.pdf ." in demo  # the demo's last line


def test_the_plan_targets_the_pdf_only_with_a_browser():
    from morphopotency.plan import build

    config = yaml.safe_load((REPO / "config/config.yaml").read_text())  # the demo scores N1-N3
    with_pdf = build(config, REPO, browser="/usr/bin/chromium")
    without = build(config, REPO, browser=None)
    off = build(config | {"score": {"pdf": False}}, REPO, browser="/usr/bin/chromium")
    assert "results/report/score_report.pdf" not in off.targets and not off.notes
    assert "results/report/score_report.pdf" in with_pdf.targets and not with_pdf.notes
    assert "results/report/score_report.pdf" not in without.targets
    assert len(without.notes) == 1 and "HTML only" in without.notes[0]


needs_browser = pytest.mark.skipif(
    find_browser() is None or shutil.which("chromedriver") is None or shutil.which("pdftotext") is None,
    reason=f"needs Chromium ({', '.join(BROWSERS)}), chromedriver and pdftotext: `make test` installs them",
)


@needs_browser
def test_every_lots_verdict_is_in_the_first_viewport_and_no_table_overflows(report_page, tmp_path):
    from tests.browser import inspect_layout

    page, scores, _, _ = report_page
    layout = inspect_layout(page, tmp_path / "first_viewport.png")
    assert (layout["width"], layout["height"]) == (1280, 800)
    assert [lot["name"] for lot in layout["lots"]] == list(scores["donor"])
    assert [lot["verdict"] for lot in layout["lots"]] == [verdict_word(v) for v in scores["verdict"]]
    assert all(0 <= lot["top"] and lot["bottom"] <= 800 for lot in layout["lots"]), layout["lots"]
    assert layout["overflowing"] == [] and layout["opened"] == []
    assert not layout["scrollsSideways"]
    assert (tmp_path / "first_viewport.png").stat().st_size > 10_000
    # The verdicts' figure on the first screen too, and every visible table speaks words.
    assert layout["leadFigure"] and layout["leadFigure"]["bottom"] <= 800, layout["leadFigure"]
    assert layout["visibleHeaders"] and not [h for h in layout["visibleHeaders"] if "_" in h]


@needs_browser
def test_the_pdf_record_names_bundle_settings_date_and_every_verdict(report_page, tmp_path):
    from morphopotency.provenance import config_hash

    page, scores, bundle, settings = report_page
    pdf = tmp_path / "score_report.pdf"
    print_pdf(page, pdf)
    pages = int(
        re.search(
            r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", pdf], capture_output=True, text=True).stdout
        ).group(1)
    )
    sections = len(re.findall(r"<section ", page.read_text()))
    assert pages >= sections  # a page break before each section
    first = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", "-layout", pdf, "-"], capture_output=True, text=True
    ).stdout
    flat = re.sub(r"\s+", "", first)  # long hashes wrap across lines
    assert bundle.digest() in flat and config_hash(settings) in flat and "2026-12-03" in first
    # The block a lot record is signed off in, on page one, every line of it.
    assert re.search(r"Sign-off", first) and all(
        re.search(rf"\b{word}\b", first) for word in ("Analyst", "Reviewer", "Date of decision", "Decision")
    ), first
    assert not re.search(r"\bLo\s*\n\s*t\b", first)  # the Lot header whole
    for name, word in zip(scores["donor"], scores["verdict"].map(verdict_word)):
        assert re.search(rf"{name}\s.*\b{word}\b", first), (name, word, first)


def test_the_donor_table_reads_first_and_every_summary_column_has_a_name():
    from morphopotency.report.donor_table import Unavailable, donor_summary
    from morphopotency.report.readable import donor_columns, donor_table

    index = pd.Index(["S1", "S5"], name="donor")
    summary = donor_summary(
        [
            pd.Series([0.6, 0.3], index=index, name="ssea3_positive_fraction"),
            pd.DataFrame(
                {
                    "cnn_multipotent_fraction": [0.55, 0.35],
                    "cnn_ci_low": [0.5, 0.3],
                    "cnn_ci_high": [0.6, 0.4],
                },
                index=index,
            ),
            Unavailable("pc1_score", "no RNA-seq in this run"),
        ]
    )
    page = donor_table(summary)
    assert re.findall(r'<td class="name">(\w+)</td>', page) == ["S1", "S5"]
    assert '0.55 <span class="ci">(0.50–0.60)</span>' in page and "<line" not in page  # no threshold
    columns = donor_columns(summary)
    assert set(summary.columns) <= set(columns), set(summary.columns) - set(columns)
    assert columns["rank_ssea3_positive_fraction"][0] == "rank: SSEA3-positive (share)"
    assert columns["pc1_score_note"][0] == "Transcriptome PC1: why empty"


def test_validation_measures_errors_only_where_there_is_an_estimate_and_names_the_rest():
    """A donor without an estimate (the reference's rates cannot be inverted) is named with the reason and
    left out of the errors, which are those of the estimated donors alone, never NaN."""
    from morphopotency.report.score import _validation_section

    known = pd.DataFrame(
        {
            "donor": ["A", "B"],
            "known_fraction": [0.5, 0.4],
            "known_from": "simulated",
            "fraction": [0.55, np.nan],
            "error": [0.05, np.nan],
            "cc_error": [0.1, -0.3],
            "covered": [True, False],
            "flagged": [False, True],
        }
    )
    text = _validation_section(known, None).text
    assert "1 donor(s): mean absolute error 0.050 (classify and count: 0.100)" in text
    assert "intervals covering 1 of 1" in text and "nan" not in text.lower()
    assert "No estimate for 1 donor(s) with a known fraction (B)" in text and "is 0.300" in text
    only_missing = _validation_section(known.iloc[1:], None).text
    assert "donor(s): mean absolute error" not in only_missing
    assert "No estimate for 1 donor(s)" in only_missing
    assert "No scored donor has a known fraction" in _validation_section(known.iloc[:0], None).text


@needs_browser
def test_the_donor_report_opens_on_its_table_of_donors_with_ranks(tmp_path):
    """Five donors' measures, each with its rank, on the first 1,280 x 800 screen, above the sentences."""
    from morphopotency.report.build import build_report
    from morphopotency.report.donor_table import donor_summary
    from morphopotency.report.html import Section
    from tests.browser import inspect_layout

    donors = pd.Index(["S1", "S5", "S7", "S8", "S9"], name="donor")
    fractions = pd.Series([0.4, 0.45, 0.35, 0.72, 0.66], index=donors)
    summary = donor_summary(
        [
            fractions.rename("ssea3_positive_fraction"),
            pd.DataFrame(
                {
                    "cnn_multipotent_fraction": fractions + 0.02,
                    "cnn_ci_low": fractions - 0.05,
                    "cnn_ci_high": fractions + 0.08,
                },
                index=donors,
            ),
            pd.Series([-3.0, -1.0, -2.0, 4.0, 2.0], index=donors, name="pc1_score"),
        ]
    )
    path = tmp_path / "donor_summary.tsv"
    summary.to_csv(path, sep="\t", index=False)
    sentences = pd.DataFrame(
        {"donor": list(donors), "sentence": [f"Donor {d} " + "reads like the others. " * 12 for d in donors]}
    )
    specs = [{"id": "donors", "title": "Donors", "tables": [{"path": str(path)}], "figures": []}]
    page = tmp_path / "donor_report.html"
    page.write_text(
        build_report("t", "s", specs, {}, tmp_path, sentences, ["a choice"] * 8, Section("provenance", "P"))
    )
    text = page.read_text()
    assert text.index('class="lots donors"') < text.index("reads like the others")
    assert '0.74 <span class="ci">(0.67–0.80)</span> <span class="rank">(#1)</span>' in text  # S8's
    layout = inspect_layout(page, tmp_path / "donors.png")
    assert [r["name"] for r in layout["donorRows"]] == list(donors)
    assert all(r["bottom"] <= 800 for r in layout["donorRows"]), layout["donorRows"]
