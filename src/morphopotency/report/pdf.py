"""The QC report as a PDF a lab can file: the HTML page printed by headless Chromium, so the record is
exactly the page the browser shows (its print stylesheet: the lot table and verdicts on page one, a page
break before each section). Chromium is a system package, not a Python one: where it is missing, the
default (score.pdf: auto) writes the HTML alone and says so, and score.pdf: true refuses to plan."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from morphopotency.config import ConfigError
from morphopotency.io.atomic import atomic_path

SCORE_PDF = "results/report/score_report.pdf"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "install Chromium (Debian/Ubuntu: apt-get install chromium; `make test` does)"


class PdfError(RuntimeError):
    pass


def find_browser() -> str | None:
    """The first Chromium-family browser on PATH, or None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def pdf_planned(setting: bool | str, browser: str | None) -> tuple[bool, str | None]:
    """(whether the run writes the PDF, a note to print when it does not and could). ``setting``: the
    config's score.pdf: true (required), false, or auto (when a browser is found)."""
    if setting is False:
        return False, None
    if browser is not None:
        return True, None
    if setting is True:
        raise ConfigError(
            f"config: score.pdf is true but no Chromium was found on PATH ({', '.join(BROWSERS)}): {INSTALL}"
        )
    return False, (
        "score.pdf auto: no Chromium found on PATH, so the QC report is written as HTML only "
        f"(results/report/score_report.html); for results/report/score_report.pdf, {INSTALL}"
    )


def pdf_status(project: str | Path, browser: str | None) -> str:
    """The one line ``make demo`` ends on: where the QC record's PDF is, or why there is none and the one
    command that installs what prints it (a run with no Chromium plans no PDF, and says so only in the
    parse-time notes a user has scrolled past by then)."""
    pdf = Path(project) / SCORE_PDF
    if pdf.is_file():
        return f"QC record written: {pdf}"
    if not (Path(project) / "results/report/score_report.html").is_file():
        return "No QC report: this run scored no lot"
    if browser is None:
        return (
            f"No PDF of the QC report: no Chromium on PATH ({', '.join(BROWSERS)}). `make browser` installs "
            "it (apt-get); then `make demo` again prints the PDF alone."
        )
    return "No PDF of the QC report: score.pdf is false in the config"


def print_pdf(page: str | Path, pdf: str | Path, browser: str | None = None, timeout: float = 180) -> None:
    """Print ``page`` (an HTML file) to ``pdf`` with headless Chromium; the PDF is whole or absent."""
    browser = browser or find_browser()
    if browser is None:
        raise PdfError(f"{pdf}: no Chromium to print {page} with: {INSTALL}")
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="morphopotency-chromium-") as profile, atomic_path(pdf) as tmp:
        command = [
            browser,
            "--headless=new",
            "--no-sandbox",  # root in containers and CI, where Chromium's sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",  # a profile of its own: parallel jobs do not share a lock
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp}",
            url,
        ]
        try:
            run = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise PdfError(f"{pdf}: {browser} did not print {page} within {timeout:g} s") from error
        written = Path(tmp)
        if run.returncode != 0 or not written.is_file() or not written.read_bytes()[:5] == b"%PDF-":
            raise PdfError(
                f"{pdf}: {browser} failed to print {page} (exit {run.returncode}): {run.stderr[-1500:]}"
            )


if __name__ == "__main__":  # make demo: python -m morphopotency.report.pdf [project folder]
    import sys

    print(pdf_status(sys.argv[1] if len(sys.argv) > 1 else ".", find_browser()))
