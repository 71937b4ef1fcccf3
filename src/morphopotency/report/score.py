"""The scoring run's QC report: one self-contained page, each new donor's verdict first."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from morphopotency.prevalence import CROSS_FITTED, SHIFTED
from morphopotency.provenance import config_hash
from morphopotency.report.html import Section, embed_png, figure, paragraph, render_report, table
from morphopotency.report.readable import full_table, lot_table, qc_columns, worded
from morphopotency.report.study import Study
from morphopotency.score.bundle import Bundle, bundle_estimator, bundle_scorer
from morphopotency.score.quality import MERGED_AREA, TINY_AREA

ESTIMATORS = {
    "cc": "classify and count (the paper's count of calls; pulled towards the training prevalence)",
    "acc": "adjusted classify and count",
    "pcc": "probabilistic classify and count",
    "pacc": "probabilistic adjusted classify and count",
    "em": "Saerens et al.'s EM prior adjustment",
    "acc_donor": "adjusted classify and count with error rates moved to a new donor's (the donor shift)",
    "pacc_donor": "probabilistic adjusted classify and count with error rates moved to a new donor's "
    "(the donor shift)",
    "pacc_cross": "cross-fitted probabilistic adjusted classify and count",
}


def _single_model_text(method: str, why: str, settings: Mapping[str, Any]) -> str:
    return (
        f"Fraction: {ESTIMATORS[method]} ({why}) from the bundle's CNN, its error rates measured on the "
        "reference cells the final model did not train on"
        + (
            ", moved by the donor shift: how much the leave-one-donor-out models' rates moved from "
            "held-out images of their training donors to the donor they never saw (a new lot is a new "
            "donor; bundle reference/donor_shift.tsv)"
            if method in SHIFTED
            else ""
        )
        + f"; 95 % intervals over {settings['bootstrap']} bootstrap resamples of those reference cells"
        + (", of the leave-one-donor-out models' shifts" if method in SHIFTED else "")
        + " and of the donor's "
        f"cells. A donor is accepted when its whole interval reaches {settings['accept_at_least']:g}, "
        "rejected when it lies wholly below, else inconclusive. cells_for_pm005: the cells a donor "
        "needs for about +/-0.05. A flagged donor is scored all the same but held, whatever its "
        "interval: the interval carries cell sampling and the error rates' uncertainty, which is all "
        "there is while the donor's cells of each kind look like the reference's; a flag says they "
        "may not, and then the estimate can be off by more than its interval."
    )


SCORER_WORDS = {
    "cnn": "the CNN's leave-one-donor-out models",
    "shape": "a logistic model on the cells' shape features, one per left-out reference donor",
    "combined": "a logistic model on the CNN's logit and the shape features, one per left-out reference "
    "donor (each reading the CNN model that left the same donor out)",
}


def _cross_fitted_text(method: str, why: str, settings: Mapping[str, Any], scorer: tuple[str, str]) -> str:
    return (
        f"Fraction: {ESTIMATORS[method]} ({why}). Cells scored by {SCORER_WORDS[scorer[0]]} ({scorer[1]}; "
        "every scorer's separation of the donors it never saw: bundle metrics/scorers.tsv). Each "
        "leave-one-donor-out model of that scorer scores the lot, and its mean probability is corrected by "
        "that model's mean probabilities of the positive and the negative cells of the one reference donor "
        "it never trained on, pooled over the models as "
        "a ratio of means (no one donor's noisy rates divide alone), every cell weighted by its edge "
        "correction (the inverse of the chance that a cell of its extent lies wholly inside the field: "
        "fields drop the cells their border cuts, long ones more often). A new "
        "lot is a donor none of the models saw, so these rates describe the very models that score it on "
        f"an unseen donor. 95 % intervals over {settings['bootstrap']} bootstrap resamples of the lot's "
        "cells and of the reference donors with their models (their spread scaled by sqrt(K / (K - 1)) "
        "for K donors; percentiles of the unclipped estimates, then clipped to 0-1); each donor's own "
        "cells are not resampled again, their noise being part of the spread between donors. "
        "variance_lot, variance_reference and variance_donors split the interval's variance "
        "(results/score/precision.tsv): more cells per lot narrow only the first, more labelled cells per "
        "reference donor the second, more reference donors the second and the third. A donor is "
        f"accepted when its whole interval reaches {settings['accept_at_least']:g}, rejected when it lies "
        "wholly below, else inconclusive; a flagged donor is scored all the same but held. How accurate "
        "this is, measured over independent simulated cohorts: docs/METHODS.md, 'How accurate is a score'."
    )


def _validation_section(
    known: pd.DataFrame,
    lodo: pd.DataFrame | None,
    scorers: pd.DataFrame | None = None,
    study: Study | None = None,
    method: str = CROSS_FITTED,
) -> Section:
    text = paragraph(
        "Where a scored donor's true fraction is known (its SSEA3, imaged but never used to score it, or "
        "the demo's simulated cells), the estimate is checked against it."
    )
    has_estimate = np.isfinite(known["fraction"].to_numpy(float)) if len(known) else np.zeros(0, bool)
    estimated, missing = known[has_estimate], known[~has_estimate]
    if len(estimated):
        clean = estimated[~estimated["flagged"].astype(bool)]
        text += paragraph(
            f"{len(estimated)} donor(s): mean absolute error {estimated['error'].abs().mean():.3f} "
            f"(classify and count: {estimated['cc_error'].abs().mean():.3f}), mean signed error "
            f"{estimated['error'].mean():+.3f}; intervals covering {int(estimated['covered'].sum())} of "
            f"{len(estimated)}; unflagged donors' mean absolute error "
            + (f"{clean['error'].abs().mean():.3f}." if len(clean) else "n/a.")
        )
    if len(missing):
        text += paragraph(
            f"No estimate for {len(missing)} donor(s) with a known fraction ({', '.join(missing['donor'])}): "
            "the reference's error rates do not separate its classes, so there is no error to measure; "
            "classify and count's mean absolute error on them is "
            f"{missing['cc_error'].abs().mean():.3f}."
        )
    if not len(known):
        text += paragraph("No scored donor has a known fraction in this run.")
    text += _study_paragraph(study, method)
    if lodo is not None and len(lodo):
        text += paragraph(_lodo_sentence(lodo, method))
    if scorers is not None and len(scorers):
        text += paragraph(
            "Every scorer's separation of the reference donors its models never saw, the evidence the "
            "automatic choice of scorer rests on (bundle metrics/scorers.tsv)."
        )
    section = Section(id="validation", title="Validation", text=text)
    if len(known):
        section.tables.append(table(worded(known), "results/score/validation.tsv", max_rows=200))
    if study is not None:
        section.tables += [table(rows, caption) for rows, caption in study.tables()]
    if lodo is not None and len(lodo):
        section.tables.append(
            table(worded(lodo), "leave-one-donor-out validation of the training run", max_rows=50)
        )
    if scorers is not None and len(scorers):
        section.tables.append(table(worded(scorers), "every scorer's out-of-donor separation"))
    return section


SIGN_OFF = (
    '<table class="signoff"><caption>Sign-off</caption><tbody>'
    "<tr><th>Analyst</th><td></td><th>Date</th><td></td></tr>"
    "<tr><th>Reviewer</th><td></td><th>Date of decision</th><td></td></tr>"
    '<tr><th>Decision</th><td colspan="3">release / reject / re-image / investigate:</td></tr>'
    "</tbody></table>"
)


def what_the_fraction_is(accept: float) -> str:
    """The two plain sentences under the verdicts: what is estimated, and what a verdict rests on."""
    return (
        "The multipotent fraction is the share of a lot's cells that SSEA3 staining would call multipotent, "
        "read from the cells' shapes alone by models trained on stained reference donors. Each lot gets a "
        f"95 % interval: accept when it lies wholly at or above {accept:g}, reject when wholly below, "
        "inconclusive when it spans the threshold, and hold when a quality or drift check failed, whatever "
        "the interval says."
    )


def _study_paragraph(study: Study | None, method: str) -> str:
    if study is None:
        return paragraph(
            "How accurate a score is: no replicated study is published with this workflow "
            "(bench/score_study.py --publish)."
        )
    return paragraph(
        f"How accurate the deployed score ({method}) is, out of donor. " + study.sentence(method)
    )


def _lodo_sentence(lodo: pd.DataFrame, method: str) -> str:
    """Why the run's own leave-one-donor-out table does or cannot rank the deployed estimator."""
    if method in set(lodo["estimator"]):
        return (
            f"The training run's leave-one-donor-out validation below ranks {method} among the estimators: "
            "each reference donor's fraction estimated by a model trained without any of its cells."
        )
    return (
        f"The training run's leave-one-donor-out table below ranks the single-model estimators; {method} "
        "is built from those very models' predictions of the donors they left out, so there are no donors "
        "left to validate it on within the run: its out-of-donor accuracy is the published study's above."
    )


def score_report(
    scores: pd.DataFrame,
    modes: pd.DataFrame,
    figure_path: str,
    bundle: Bundle,
    settings: Mapping[str, Any],
    generated: str,
    known: pd.DataFrame | None = None,
    precision: pd.DataFrame | None = None,
    study: Study | None = None,
    modes_figure: str | None = None,
) -> str:
    """The QC report: the verdicts, their figure, what the fraction is and a sign-off block first (page
    one of the PDF); then how the fraction is computed, its validation, the checks, the shape modes and
    the bundle. Every visible table's headers are words from one glossary (readable.qc_columns)."""
    lodo = bundle.optional_table("metrics/lodo_validation.tsv")
    method, why = bundle_estimator(bundle, settings)
    accept = float(settings["accept_at_least"])
    lead = (
        '<div class="lead"><div class="leadtable">'
        + lot_table(scores, accept)
        + paragraph(
            "The bar: the interval (purple), the estimate (dot), the threshold (red line). Hold: a check "
            "failed (the flags say which), so the interval cannot be trusted."
        )
        + paragraph(what_the_fraction_is(accept))
        + SIGN_OFF
        + '</div><figure class="leadfigure">'
        + f'<img src="{embed_png(figure_path)}" alt="{html.escape(figure_path)}">'
        + "<figcaption>"
        + paragraph(
            "Scored lots (purple, hollow when flagged) beside the reference donors' SSEA3-positive fractions."
        )
        + "</figcaption></figure></div>"
    )
    summary = Section(
        id="verdicts",
        title="Verdicts",
        text=lead
        + full_table(
            scores,
            "results/score/donor_scores.tsv",
            qc_columns(scores),
            f"Full table: every measure of the {len(scores)} lots, with a glossary",
        ),
    )
    computed = Section(
        id="method",
        title="How the fraction is computed",
        text=paragraph(
            _cross_fitted_text(method, why, settings, bundle_scorer(bundle, settings))
            if method == CROSS_FITTED
            else _single_model_text(method, why, settings)
        ),
    )
    validated = _validation_section(
        known if known is not None else pd.DataFrame(), lodo, bundle.scorers(), study, method
    )
    qc = settings["qc"]
    checks = Section(
        id="quality",
        title="Quality and drift checks",
        text=paragraph(
            f"Flags: fewer than {settings['min_cells']} cells; median edge sharpness below "
            f"{qc['min_focus_ratio']:g} x the reference images' (focus_ratio); an image with more than "
            f"{qc['max_saturated']:.1%} of pixels at the detector's ceiling (saturated_max); a pixel size "
            f"more than {qc['max_pixel_size_change']:.0%} off the reference's, whether cells were measured "
            "at it (pixel_size_ratio) or imaged at it and resampled to the reference's before segmentation "
            "(imaged_pixel_size_ratio: comparable shapes, but images the model was never validated on); "
            "shares of objects cut by the "
            f"border, tiny (< {TINY_AREA:g} x the reference's median area) or merged (> {MERGED_AREA:g} x) "
            f"more than {qc['max_excess']:.0%} above the reference's; and drift: an energy-distance "
            "permutation test of the donor's cells against reference cells drawn at the fraction, among "
            "7 spread over the donor's 95 % interval, whose draw lies nearest the donor (shape_drift_at, "
            "embedding_drift_at), on shape features (shape_drift_p) and on the CNN's embedding of the "
            f"cells (embedding_drift_p), flagged at or below p = {settings['drift_alpha']:g} where the "
            "distance also exceeds how far one more reference donor would lie from the others "
            "(shape_drift_bound, embedding_drift_bound: the 99 % prediction bound of the reference donors' "
            "own distances; without one, for want of three donors, the shape check decides by p alone and "
            "the CNN check flags nothing). Drawing the reference at the donor's fraction keeps a donor from "
            "being flagged merely for being more or less multipotent than the reference cohort, drawing it "
            "within the interval keeps an estimation error from passing for drift, and the donors' bound "
            "keeps a new donor, which differs from the pool as the reference donors differ from each other "
            "(its interval carries that spread), from passing for one. Focus is compared with the "
            "reference images' at the lot's own mix (focus_ratio_at_mix): one kind of cell can have "
            "blunter edges than another."
        ),
    )
    if precision is not None and len(precision):
        checks.text += paragraph(
            "Precision: each lot's interval variance split into the lot's cells (variance_lot, which "
            "more cells per lot narrow) and the spread between reference donors, itself split into what "
            "their number of labelled cells explains (variance_reference: more labelled cells per "
            "reference donor) and the rest (variance_donors: more reference donors), with the cells the "
            "lot would need for +/-0.05 or +/-0.10 (-1: the reference and donor parts alone are wider, so "
            "no number of cells gets there)."
            if method == CROSS_FITTED
            else "Precision guidance: the cells a new donor needs for a 95 % interval of +/-0.05 or "
            "+/-0.10 at several true fractions, from the final model's error rates on the reference cells "
            "it did not train on (cell sampling alone; the error rates' own uncertainty adds a little)."
        )
        checks.tables.append(table(worded(precision), "results/score/precision.tsv"))
    shapes = Section(
        id="shape-modes",
        title="Shape-mode profile",
        text=paragraph(
            "Fraction of each donor's cells in each shape mode of the bundle's model (assigned, not "
            "refitted)."
        ),
    )
    if modes_figure:
        shapes.figures.append(
            figure(
                modes_figure,
                paragraph(
                    "Each lot's share of cells in each shape mode (coloured) against the reference donors' "
                    "(grey: their range; black: their mean)."
                ),
            )
        )
    shapes.text += full_table(
        modes, "results/score/shape_modes.tsv", qc_columns(modes), "The shape-mode profile as a table"
    )
    record = bundle.provenance
    provenance = Section(
        id="provenance",
        title="Model bundle",
        text="".join(
            [
                paragraph(
                    f"Bundle {bundle.folder}: format {record['format']}, training commit "
                    f"{record.get('commit')}, "
                    f"training config SHA-256 {record.get('config_sha256')}. Report generated {generated}."
                ),
                paragraph(
                    "Every file of the bundle was checked against its MANIFEST.sha256 before scoring. "
                    f"The reference cells were segmented by {bundle.segmenter_label()}; a lot "
                    "segmented otherwise (masks against a segmenter, either way, or masks another tool drew) "
                    "is held. The reference's SSEA3 labels, and a lot's where SSEA3 "
                    "was imaged, are each cell's mean over "
                    + ("its inner half" if bundle.ssea3_region() == "inner" else "the whole cell")
                    + "."
                ),
            ]
        ),
    )
    provenance.tables.append(
        table(
            worded(pd.DataFrame(sorted(record["versions"].items()), columns=["package", "version"])),
            "package versions of the training run",
        )
    )
    return render_report(
        "morphopotency QC report",
        f"{len(scores)} lots scored with a trained model, "
        "from cell shape alone (after Kim et al., Sci. Rep. 2023).",
        [summary, computed, validated, checks, shapes, provenance],
        record=f"Generated {generated}; bundle {bundle.folder.name} SHA-256 {bundle.digest()} (of its "
        f"MANIFEST.sha256); scoring settings SHA-256 {config_hash(settings)} (the config's score section).",
    )
