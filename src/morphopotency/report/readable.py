"""Tables as a person reads them: a short table first (one row per lot or donor, the verdict set apart by
colour and word, the interval drawn against the acceptance threshold), the full table after it under a
collapsed section with human column names and units, a glossary of every column and the TSV itself.

The bar is an inline SVG written by hand: the page must open offline as one file, and a plotting
library's figure per row would be an image per lot where a few shapes say it."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping

import numpy as np
import pandas as pd

VERDICTS = ("accept", "reject", "inconclusive", "hold", "no estimate")

# Column -> (heading with its unit, what it means). A column missing here keeps its own name in the full
# table and says so in the glossary, so a new column is never silently unexplained.
SCORE_COLUMNS: dict[str, tuple[str, str]] = {
    "donor": ("Lot", "the donor or lot scored (the sample sheet's donor column)"),
    "cells": ("Cells scored", "segmented cells that passed the size filter and were scored"),
    "cc_fraction": (
        "Called positive (share)",
        "share of cells the CNN calls multipotent (classify and count, the paper's measure; pulled towards "
        "the reference cohort's fraction)",
    ),
    "estimator": ("Estimator", "how the fraction was estimated from the cells' probabilities"),
    "scorer": (
        "Scorer",
        "what gave each cell its probability: the CNN, a model on shape features, or both combined "
        "(score.model; the bundle's metrics/scorers.tsv says why)",
    ),
    "fraction": ("Multipotent fraction", "estimated share of multipotent cells in the lot (0-1)"),
    "ci_low": ("95 % interval, low", "lower end of the 95 % bootstrap interval of the fraction"),
    "ci_high": ("95 % interval, high", "upper end of the 95 % bootstrap interval of the fraction"),
    "cells_for_pm005": (
        "Cells for +/-0.05",
        "cells the lot would need for a 95 % interval of about +/-0.05 (-1: unreachable by more cells)",
    ),
    "variance_lot": (
        "Variance: lot cells",
        "part of the interval's variance from sampling the lot's cells; more cells per lot narrow it",
    ),
    "variance_reference": (
        "Variance: reference cells",
        "part of the spread between reference donors that their number of labelled cells explains; more "
        "labelled cells per donor narrow it",
    ),
    "variance_donors": (
        "Variance: reference donors",
        "the rest of the spread between reference donors and their models; more reference donors narrow it",
    ),
    "ssea3_fraction": (
        "SSEA3-positive (share)",
        "share of SSEA3-positive cells where SSEA3 was imaged (never used to score the lot)",
    ),
    "shape_drift": (
        "Shape drift (energy distance)",
        "distance of the lot's shape features from the reference's",
    ),
    "shape_drift_p": (
        "Shape drift p",
        "permutation p-value of the shape drift; flagged at or below alpha, beyond the donors' bound",
    ),
    "shape_drift_bound": (
        "Shape drift: donors' bound",
        "how far one more reference donor would lie from the others (99 % prediction bound of the reference "
        "donors' own distances); a lot within it is a new donor, not drift",
    ),
    "shape_drift_at": (
        "Shape drift: reference fraction",
        "the multipotent fraction of the reference draw the lot was compared with (within its interval)",
    ),
    "embedding_drift": (
        "CNN drift (energy distance)",
        "distance of the lot's cells from the reference cells in the CNN's embedding",
    ),
    "embedding_drift_p": (
        "CNN drift p",
        "permutation p-value of the CNN drift; flagged at or below alpha, beyond the donors' bound",
    ),
    "embedding_drift_bound": (
        "CNN drift: donors' bound",
        "as the shape drift's, in the CNN's embedding; empty where its reference cells come from fewer than "
        "three donors, and then the CNN drift flags nothing",
    ),
    "embedding_drift_at": (
        "CNN drift: reference fraction",
        "the multipotent fraction of the reference draw the lot was compared with (within its interval)",
    ),
    "focus_ratio_at_mix": (
        "Focus (x reference at the lot's mix)",
        "median edge sharpness of the lot's images over the reference images' at the lot's fraction (a line "
        "through the reference images' sharpness against their labelled share); what the focus flag reads",
    ),
    "focus_ratio": (
        "Focus (x reference)",
        "median edge sharpness of the lot's images over the reference images'; below 1 is blurrier",
    ),
    "saturated_max": (
        "Saturated pixels (max share)",
        "largest share of an image's pixels at the detector's ceiling",
    ),
    "pixel_size_ratio": (
        "Pixel size (x reference)",
        "pixel size the shapes were measured at over the reference's",
    ),
    "imaged_pixel_size_ratio": (
        "Imaged pixel size (x reference)",
        "pixel size the lot was imaged at over the reference's (before any resampling to it)",
    ),
    "border_share": ("Cut by border (share)", "share of objects touching the image border"),
    "tiny_share": ("Tiny objects (share)", "share of objects far smaller than the reference's median cell"),
    "merged_share": (
        "Merged objects (share)",
        "share of objects far larger than the reference's median cell",
    ),
    "flags": ("Flags", "why a lot is held: each check it failed, in words"),
    "verdict": (
        "Verdict",
        "accept, reject, inconclusive or hold, with the interval it rests on; no estimate where the "
        "reference's error rates cannot be inverted",
    ),
}


# Every other table the QC report shows (validation, leave-one-donor-out, scorers, precision, the study),
# in the same words: with SCORE_COLUMNS, the one glossary its headers come from (qc_columns).
QC_COLUMNS: dict[str, tuple[str, str]] = {
    "known_fraction": (
        "Known fraction",
        "the lot's true fraction: its imaged SSEA3 share, or the simulation's",
    ),
    "known_from": ("Known from", "where the known fraction comes from (SSEA3 imaged, or simulated)"),
    "error": ("Error", "estimated minus known fraction"),
    "cc_error": ("Error of counting calls", "classify and count's fraction minus the known one"),
    "covered": ("Interval covers it", "whether the 95 % interval holds the known fraction"),
    "flagged": ("Flagged", "whether a quality or drift check flagged the lot"),
    "donors": ("Donors", "reference donors measured"),
    "mean_abs_error": ("Mean absolute error", "mean of the absolute errors"),
    "max_abs_error": ("Largest error", "the largest absolute error"),
    "mean_signed_error": ("Mean signed error", "mean of the errors: an estimator's offset"),
    "spearman_rho": ("Spearman's rho", "rank correlation of the estimates with the known fractions"),
    "intervals_covering": ("Intervals covering", "how many donors' 95 % intervals held their fraction"),
    "sweep_mean_abs_error": (
        "Error over fractions 0.05-0.95",
        "mean absolute error when each held-out donor's cells are redrawn at fractions 0.05-0.95",
    ),
    "sweep_bias": ("Offset over fractions 0.05-0.95", "mean absolute signed error over those redraws"),
    "roc_auc": ("ROC-AUC out of donor", "how well the scorer ranks the cells of donors its models never saw"),
    "gap": (
        "Gap between classes",
        "mean probability of the positive cells minus that of the negative ones, on unseen donors",
    ),
    "min_donor_gap": ("Smallest donor's gap", "the gap on the donor where it was smallest"),
    "expected_half_width": (
        "Expected half-width",
        "the 95 % half-width a lot of 400 cells at 0.5 would get: what the automatic choice ranks by",
    ),
    "chosen": ("Chosen automatically", "the scorer score.model auto deploys"),
    "share_lot": ("Share: lot's cells", "share of the interval's variance from sampling the lot's cells"),
    "share_reference": (
        "Share: reference cells",
        "share from the reference donors' labelled cells (more labelled cells per donor narrow it)",
    ),
    "share_donors": (
        "Share: between donors",
        "share from the reference donors differing (more reference donors narrow it)",
    ),
    "cells_for_pm010": (
        "Cells for +/-0.10",
        "cells the lot would need for a 95 % interval of about +/-0.10 (-1: unreachable by more cells)",
    ),
    "package": ("Package", "a package that decides the bundle's numbers"),
    "version": ("Version", "its version in the training run"),
}


def qc_columns(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """The QC report's one glossary for ``frame``'s columns: SCORE_COLUMNS, QC_COLUMNS, and the shape
    modes (mode_<k>) and variance parts by name."""
    columns = SCORE_COLUMNS | QC_COLUMNS
    for column in frame.columns:
        if str(column).startswith("mode_") and str(column)[5:].isdigit():
            columns = columns | {
                column: (f"Mode {column[5:]} (share)", f"share of cells in shape mode {column[5:]}")
            }
    return columns


def worded(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its headers in the QC report's words (qc_columns)."""
    return readable(frame, qc_columns(frame))


def verdict_word(verdict: str) -> str:
    """The decision a verdict sentence starts with (one of VERDICTS)."""
    head = str(verdict).split(":", 1)[0].strip().lower()
    return head if head in VERDICTS else "no estimate"


def interval_bar(low: float, high: float, value: float, threshold: float | None, width: int = 150) -> str:
    """An inline SVG of the 0-1 axis: the 95 % interval as a bar, the estimate as a dot, the acceptance
    threshold (where there is one) as a line; an empty axis where there is no estimate."""
    height = 14

    def x(v: float) -> float:
        return round(2 + float(np.clip(v, 0, 1)) * (width - 4), 1)

    parts = [f'<rect x="2" y="6" width="{width - 4}" height="2" fill="#ddd"/>']
    if np.isfinite(low) and np.isfinite(high):
        parts.append(
            f'<rect x="{x(low)}" y="3" width="{max(x(high) - x(low), 1.5)}" height="8" rx="2" fill="#6a3d9a" '
            'fill-opacity="0.45"/>'
        )
    if np.isfinite(value):
        parts.append(f'<circle cx="{x(value)}" cy="7" r="3" fill="#3f1d6b"/>')
    if threshold is not None:
        parts.append(f'<line x1="{x(threshold)}" x2="{x(threshold)}" y1="0" y2="{height}" stroke="#c0392b"/>')
    label = f"interval {low:.2f}-{high:.2f}" if np.isfinite(low) and np.isfinite(high) else "no estimate"
    if threshold is not None:
        label += f", threshold {threshold:g}"
    return (
        f'<svg class="bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(label)}">{"".join(parts)}</svg>'
    )


def _number(value: object, digits: int = 2) -> str:
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return f"{value:.{digits}f}" if np.isfinite(value) else "–"


def _cells(value: object) -> str:
    try:
        return f"{int(value)}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "–"


def _fraction_cells(value: float, low: float, high: float, threshold: float | None) -> str:
    """The fraction with its interval as numbers, then as a bar: the two cells both short tables show."""
    return (
        f'<td>{_number(value)} <span class="ci">({_number(low)}–{_number(high)})</span></td>'
        f"<td>{interval_bar(low, high, value, threshold)}</td>"
    )


def lot_table(scores: pd.DataFrame, accept: float, key: str = "donor", heading: str = "Lot") -> str:
    """One row per lot: cells, fraction with its interval as numbers and as a bar, verdict, flags."""
    rows = []
    for r in scores.to_dict("records"):
        word = verdict_word(r.get("verdict", ""))
        flags = r.get("flags")
        flags = flags if isinstance(flags, str) and flags else "none"
        low, high, value = (float(r.get(c, np.nan)) for c in ("ci_low", "ci_high", "fraction"))
        rows.append(
            f'<tr class="lot v-{word.replace(" ", "-")}"><td class="name">{html.escape(str(r[key]))}</td>'
            f"<td>{_cells(r.get('cells'))}</td>"
            + _fraction_cells(value, low, high, accept)
            + f'<td class="verdict"><span class="badge">{html.escape(word)}</span></td>'
            f'<td class="flags">{html.escape(flags)}</td></tr>'
        )
    return (
        '<table class="lots"><thead><tr>'
        f"<th>{html.escape(heading)}</th><th>Cells scored</th>"
        "<th>Multipotent fraction<br>(95 % interval)</th>"
        f'<th>Interval vs<br>threshold {accept:g}</th><th>Verdict</th><th class="flags">Flags</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# The donor report's donor_summary.tsv (report.donor_table); rank_<measure> and <measure>_note columns are
# described by their measure's entry.
DONOR_COLUMNS: dict[str, tuple[str, str]] = {
    "donor": ("Donor", "the donor (the sample sheet's donor column)"),
    "ssea3_positive_fraction": (
        "SSEA3-positive (share)",
        "share of the donor's segmented cells whose SSEA3 intensity passes the threshold (the label)",
    ),
    "cnn_multipotent_fraction": (
        "CNN multipotent fraction",
        "the CNN's estimate of the donor's multipotent share (report.cnn_fraction says which estimate)",
    ),
    "cnn_ci_low": ("CNN 95 % interval, low", "lower end of the CNN fraction's 95 % interval"),
    "cnn_ci_high": ("CNN 95 % interval, high", "upper end of the CNN fraction's 95 % interval"),
    "round_mode_fraction": ("Round shape modes (share)", "share of cells in the round shape modes"),
    "elongated_mode_fraction": ("Elongated shape modes (share)", "share of cells in the elongated modes"),
    "round_modes": ("Round modes", "which shape modes count as round (mean circularity at or above the cut)"),
    "elongated_modes": (
        "Elongated modes",
        "which shape modes count as elongated (mean aspect ratio at or above the cut)",
    ),
    "mean_circularity": ("Mean circularity", "4 pi area / perimeter^2 of the donor's cells (1 = a disc)"),
    "mean_aspect_ratio": ("Mean aspect ratio", "major over minor axis of the donor's cells"),
    "pc1_score": ("Transcriptome PC1", "the donor's stem samples' mean score on the RNA-seq PC1"),
    "mean_correlation": (
        "Mean transcriptome correlation",
        "mean Pearson correlation of the donor's stem samples with the other donors'",
    ),
    "differentiation_score": (
        "Differentiation score",
        "mean expression change of the stem-versus-differentiated genes (pydeseq2) in the donor's samples",
    ),
}


def donor_columns(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    """DONOR_COLUMNS with the rank and note columns ``frame`` holds named after their measure."""
    columns = dict(DONOR_COLUMNS)
    for column in frame.columns:
        for prefix, suffix, heading, meaning in (
            ("rank_", "", "rank: {}", "rank of the donor on {} (1 = highest)"),
            ("", "_note", "{}: why empty", "why {} could not be computed for this cohort"),
        ):
            measure = column.removeprefix(prefix).removesuffix(suffix)
            if column != measure and measure in DONOR_COLUMNS:
                name = DONOR_COLUMNS[measure][0]
                columns[column] = (heading.format(name), meaning.format(name))
    return columns


def _ranked(row: Mapping[str, object], column: str) -> str:
    """A measure's value with the donor's rank on it (1 = highest) where the summary ranks it."""
    rank = row.get(f"rank_{column}")
    shown = _number(row.get(column))
    if isinstance(rank, int | float | np.integer | np.floating) and np.isfinite(rank):
        shown += f' <span class="rank">(#{int(rank)})</span>'
    return shown


def donor_table(summary: pd.DataFrame) -> str:
    """One row per donor: each measure the report compares with the donor's rank on it (the label, the
    CNN's fraction with its interval as numbers and a bar, the shape modes, the transcriptome's axes), so
    the eye compares the donors before reading a sentence about any."""
    shown = [
        c
        for c in ("round_mode_fraction", "pc1_score", "mean_correlation", "differentiation_score")
        if c in summary
    ]
    rows = []
    for r in summary.to_dict("records"):
        low, high, value = (
            float(r.get(c, np.nan)) for c in ("cnn_ci_low", "cnn_ci_high", "cnn_multipotent_fraction")
        )
        rank = r.get("rank_cnn_multipotent_fraction")
        ranked = (
            f' <span class="rank">(#{int(rank)})</span>'
            if isinstance(rank, int | float | np.integer | np.floating) and np.isfinite(rank)
            else ""
        )
        rows.append(
            f'<tr><td class="name">{html.escape(str(r["donor"]))}</td>'
            f"<td>{_ranked(r, 'ssea3_positive_fraction')}</td>"
            + _fraction_cells(value, low, high, None).replace("</td>", f"{ranked}</td>", 1)
            + "".join(f"<td>{_ranked(r, c)}</td>" for c in shown)
            + "</tr>"
        )
    heads = "".join(f"<th>{html.escape(DONOR_COLUMNS[c][0])}</th>" for c in shown)
    return (
        '<table class="lots donors"><thead><tr><th>Donor</th><th>SSEA3-positive<br>(share)</th>'
        "<th>CNN multipotent fraction<br>(95 % interval)</th><th>Interval</th>"
        f"{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="note">Each measure with the donor\'s rank on it (#1: highest).</p>'
    )


def readable(frame: pd.DataFrame, columns: Mapping[str, tuple[str, str]]) -> pd.DataFrame:
    """The table with human column names (units in them); columns without a name keep theirs."""
    return frame.rename(columns={c: columns[c][0] for c in frame.columns if c in columns})


def glossary(frame: pd.DataFrame, columns: Mapping[str, tuple[str, str]]) -> str:
    """Every column of ``frame``: its heading, its name in the TSV and what it means."""
    items = []
    for column in frame.columns:
        heading, meaning = columns.get(column, (column, "no description: a column this report does not know"))
        items.append(
            f"<dt>{html.escape(heading)} <code>{html.escape(str(column))}</code></dt>"
            f"<dd>{html.escape(meaning)}</dd>"
        )
    return f'<dl class="glossary">{"".join(items)}</dl>'


def tsv_link(frame: pd.DataFrame, filename: str) -> str:
    """A link that saves the table as the TSV it came from; embedded, so the page stays one file."""
    data = base64.b64encode(frame.to_csv(sep="\t", index=False).encode("utf-8")).decode("ascii")
    name = html.escape(filename.rsplit("/", 1)[-1])
    return (
        f'<a download="{name}" href="data:text/tab-separated-values;base64,{data}">'
        f"download {name}</a> (the run's {html.escape(filename)})"
    )


def _value(value: object) -> str:
    if isinstance(value, float | np.floating):
        return "–" if not np.isfinite(value) else f"{value:.3g}"
    if value is None or (isinstance(value, str) and not value):
        return "–"
    return str(value)


def full_table(
    frame: pd.DataFrame,
    filename: str,
    columns: Mapping[str, tuple[str, str]],
    summary: str,
    key: str = "donor",
    per_block: int = 8,
) -> str:
    """The whole table, collapsed: one row per measure (its heading with the unit) and one column per lot,
    ``per_block`` lots a block, so no number of measures or lots runs off the page; its glossary and the
    TSV. Turned on its side because a lot has two dozen measures and a run a handful of lots."""
    measures = [c for c in frame.columns if c != key]
    headings = dict(zip(frame.columns, readable(frame, columns).columns))
    blocks = []
    for start in range(0, len(frame), per_block):
        part = frame.iloc[start : start + per_block]
        head = "".join(f"<th>{html.escape(str(v))}</th>" for v in part[key])
        body = "".join(
            f"<tr><th>{html.escape(str(headings[m]))}</th>"
            + "".join(f"<td>{html.escape(_value(v))}</td>" for v in part[m])
            + "</tr>"
            for m in measures
        )
        label = html.escape(str(headings[key]))
        blocks.append(
            f'<div class="tablewrap"><table class="measures"><thead><tr><th>{label}</th>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )
    return (
        f'<details class="full"><summary>{html.escape(summary)}</summary>'
        f'<p class="file">{tsv_link(frame, filename)}</p>{"".join(blocks)}'
        f"<h3>Glossary</h3>{glossary(frame, columns)}</details>"
    )
