"""The self-contained HTML report: figures embedded as data URIs, tables inline, captions rendered from the
same rst files Snakemake's own report uses, so the two reports never disagree on what was computed."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from docutils.core import publish_parts

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Section:
    """One report section: ``id`` is the HTML anchor the browser test looks for."""

    id: str
    title: str
    text: str = ""
    tables: list[dict[str, str]] = field(default_factory=list)
    figures: list[dict[str, str]] = field(default_factory=list)


def embed_png(path: str | Path) -> str:
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"{path}: not a PNG file, cannot embed it in the report")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def render_caption(rst_file: str | Path, config: Mapping[str, Any]) -> str:
    """The rst caption, with its ``{{ snakemake.config[...] }}`` filled from the run's config, as HTML."""
    text = jinja2.Template(
        Path(rst_file).read_text(encoding="utf-8"), undefined=jinja2.StrictUndefined
    ).render(snakemake={"config": config})
    return rst_to_html(text)


def rst_to_html(text: str) -> str:
    # docutils writes a full document; the fragment is the body without title promotion or headers.
    return publish_parts(
        text,
        writer="html5",
        settings_overrides={
            "report_level": 5,
            "halt_level": 5,
            "embed_stylesheet": False,
            "doctitle_xform": False,
        },
    )["fragment"]


def table_html(frame: pd.DataFrame, max_rows: int = 25, float_format: str = "{:.3g}") -> tuple[str, str]:
    """HTML for the first ``max_rows`` rows, and a note saying how many were left out."""
    shown = frame.head(max_rows)
    body = shown.to_html(index=False, na_rep="–", float_format=float_format.format, border=0, escape=True)
    note = f"first {max_rows} of {len(frame)} rows" if len(frame) > max_rows else f"{len(frame)} rows"
    return body, note


def figure(path: str | Path, caption_html: str) -> dict[str, str]:
    return {"src": embed_png(path), "caption": caption_html, "name": str(path)}


def table(frame: pd.DataFrame, name: str, caption_html: str = "", max_rows: int = 25) -> dict[str, str]:
    body, note = table_html(frame, max_rows)
    return {"html": body, "caption": caption_html, "note": f"{name}: {note}"}


def paragraph(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def render_report(title: str, subtitle: str, sections: list[Section], record: str = "") -> str:
    """The page; ``record``: one line under the title naming what the page was made from (a filed copy
    must say which bundle, settings and date its verdicts came from)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    page = env.get_template("donor_report.html.j2").render(
        title=html.escape(title),
        subtitle=html.escape(subtitle),
        sections=sections,
        record=html.escape(record),
    )
    external = re.findall(r"""(?:src|href)\s*=\s*["'](?!data:|#)([^"']+)""", page)
    if external:  # the file must open anywhere: nothing may point outside it
        raise ValueError(f"report would load external resources: {external[:3]}")
    return page
