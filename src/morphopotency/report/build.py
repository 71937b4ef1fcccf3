"""Assemble the donor report from the section list the workflow gives (paths + rst captions), the donor
sentences and the run's provenance. Takes data, returns the HTML text."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from morphopotency.report.choices import reproducibility
from morphopotency.report.html import Section, figure, paragraph, render_caption, render_report, table
from morphopotency.report.readable import donor_columns, donor_table, full_table

DONOR_SUMMARY = "donor_summary.tsv"  # the donor report's table of donors (report.donor_table)


def _caption(spec: Mapping[str, Any], config: Mapping[str, Any], root: Path) -> str:
    return render_caption(root / spec["caption"], config) if spec.get("caption") else ""


def content_sections(
    specs: Sequence[Mapping[str, Any]], config: Mapping[str, Any], root: str | Path
) -> list[Section]:
    """One Section per spec, figures embedded and tables inlined, each with its caption rendered."""
    root = Path(root)
    sections = []
    for spec in specs:
        section = Section(id=spec["id"], title=spec["title"])
        for item in spec["tables"]:
            frame = pd.read_csv(item["path"], sep="\t")
            entry = table(frame, item["path"], _caption(item, config, root), item.get("rows", 25))
            if Path(item["path"]).name == DONOR_SUMMARY:  # its short table opens the section, the whole
                section.text = donor_table(frame)  # table collapsed below the text
                entry["html"] = full_table(
                    frame,
                    item["path"],
                    donor_columns(frame),
                    f"Full table: every measure of the {len(frame)} donors, with a glossary",
                )
            section.tables.append(entry)
        for item in spec["figures"]:
            section.figures.append(figure(item["path"], _caption(item, config, root)))
        sections.append(section)
    return sections


def provenance_section(
    config: Mapping[str, Any],
    config_hash: str,
    commit: str,
    versions: pd.DataFrame,
    manifest: pd.DataFrame,
    span: Mapping[str, Any],
    generated: str,
) -> Section:
    minutes = span["duration_s"] / 60 if span["duration_s"] == span["duration_s"] else float("nan")
    text = "".join(
        [
            paragraph(
                f"Report generated {generated}. The current results were produced between "
                f"{span['started']} and {span['finished']} "
                f"({minutes:.1f} min, from the job logs' timestamps)."
            ),
            paragraph(f"Workflow commit: {commit}. Config SHA-256 (canonical JSON): {config_hash}."),
            paragraph(reproducibility(config)),
            "<h3>Config as run</h3><pre>"
            + html.escape(yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=None))
            + "</pre>",
        ]
    )
    section = Section(id="provenance", title="Provenance", text=text)
    section.tables.append(table(versions, "package versions", max_rows=100))
    section.tables.append(table(manifest, "input files (results/provenance/inputs.tsv)", max_rows=500))
    return section


def donor_overview_text(
    sentences: pd.DataFrame, choices: Sequence[str], unavailable: pd.DataFrame | None = None
) -> str:
    """The per-donor sentences, the measures this cohort could not give and why, then the choices that
    go beyond the paper and why: under the donors' table (content_sections), which the eye compares
    donors by before it reads."""
    items = "".join(f"<li>{html.escape(s)}</li>" for s in sentences["sentence"])
    notes = "".join(f"<li>{html.escape(c)}</li>" for c in choices)
    missing = ""
    if unavailable is not None and len(unavailable):
        rows = "".join(
            f"<li><code>{html.escape(str(m))}</code>: left empty; {html.escape(str(r))}</li>"
            for m, r in zip(unavailable["measure"], unavailable["reason"])
        )
        missing = f'<h3>Not computed for this cohort</h3><ul class="unavailable">{rows}</ul>'
    return f"<ul>{items}</ul>{missing}<h3>Choices beyond the paper</h3><ul>{notes}</ul>"


def build_report(
    title: str,
    subtitle: str,
    specs: Sequence[Mapping[str, Any]],
    config: Mapping[str, Any],
    root: str | Path,
    sentences: pd.DataFrame,
    choices: Sequence[str],
    provenance: Section,
    unavailable: pd.DataFrame | None = None,
) -> str:
    sections = content_sections(specs, config, root)
    if sections and sections[0].id == "donors":
        sections[0].text += donor_overview_text(sentences, choices, unavailable)
    return render_report(title, subtitle, [*sections, provenance])
