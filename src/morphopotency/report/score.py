"""The scoring run's QC report: one self-contained page, each new donor's verdict first."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import pandas as pd

from morphopotency.report.html import Section, figure, paragraph, render_report, table
from morphopotency.score.bundle import Bundle

ESTIMATORS = {
    "cc": "classify and count (the paper's count of calls; pulled towards the training prevalence)",
    "acc": "adjusted classify and count",
    "pcc": "probabilistic classify and count",
    "pacc": "probabilistic adjusted classify and count",
    "em": "Saerens et al.'s EM prior adjustment",
}


def score_report(
    scores: pd.DataFrame,
    modes: pd.DataFrame,
    figure_path: str,
    bundle: Bundle,
    settings: Mapping[str, Any],
    generated: str,
) -> str:
    verdicts = "".join(
        f"<li><b>{html.escape(r.donor)}</b>: {html.escape(r.verdict)}"
        + (f" <i>Flags: {html.escape(r.flags)}.</i>" if isinstance(r.flags, str) and r.flags else "")
        + "</li>"
        for r in scores.itertuples()
    )
    method = settings["estimator"]
    summary = Section(
        id="verdicts",
        title="Verdicts",
        text=f"<ul>{verdicts}</ul>"
        + paragraph(
            f"Fraction: {ESTIMATORS[method]} from the bundle's CNN, its error rates measured on the "
            f"reference cohort's cross-validated cells; 95 % intervals over {settings['bootstrap']} "
            "bootstrap resamples of those reference cells and of the donor's cells. A donor is accepted "
            f"when its whole interval reaches {settings['accept_at_least']:g}, rejected when it lies wholly "
            "below, else inconclusive. cells_for_pm005: the cells a donor needs for about +/-0.05."
        ),
    )
    summary.figures.append(
        figure(
            figure_path,
            paragraph(
                "Scored donors (purple, hollow when flagged) beside the reference donors' SSEA3-positive "
                "fractions."
            ),
        )
    )
    summary.tables.append(table(scores, "results/score/donor_scores.tsv", max_rows=200))
    shapes = Section(
        id="shape-modes",
        title="Shape-mode profile",
        text=paragraph(
            "Fraction of each donor's cells in each shape mode of the bundle's model (assigned, not "
            "refitted)."
        ),
    )
    shapes.tables.append(table(modes, "results/score/shape_modes.tsv", max_rows=200))
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
                paragraph("Every file of the bundle was checked against its MANIFEST.sha256 before scoring."),
            ]
        ),
    )
    provenance.tables.append(
        table(
            pd.DataFrame(sorted(record["versions"].items()), columns=["package", "version"]),
            "package versions of the training run",
        )
    )
    return render_report(
        "morphopotency QC report",
        f"{len(scores)} donors scored with a trained model, "
        "from cell shape alone (after Kim et al., Sci. Rep. 2023).",
        [summary, shapes, provenance],
    )
