"""The replicated validation study's table as the reports quote it: measured by bench/score_study.py over
independent simulated cohorts (``--publish`` writes it to resources/validation/), not by the run that
shows it, and said so wherever it is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

STUDY = "resources/validation/score_study.tsv"
STUDY_META = "resources/validation/score_study.json"
COLUMNS = {
    "estimator": "estimator",
    "lots": "lots",
    "mean_signed_error": "mean signed error",
    "mse_ci_low": "its 95 % CI, low",
    "mse_ci_high": "high",
    "mean_abs_error": "mean absolute error",
    "max_abs_error": "max error",
    "slope": "slope of error on fraction",
    "coverage_95": "95 % intervals covering",
    "mean_half_width": "mean half-width",
}


def study_files(basedir: str | Path) -> list[str]:
    """The published study's files in the workflow folder, or none where no study was published."""
    paths = [Path(basedir) / STUDY, Path(basedir) / STUDY_META]
    return [str(p) for p in paths] if all(p.is_file() for p in paths) else []


def read_study(files: list[str]) -> tuple[pd.DataFrame, dict] | None:
    if not files:
        return None
    return pd.read_csv(files[0], sep="\t"), json.loads(Path(files[1]).read_text())


def study_sentence(table: pd.DataFrame, meta: dict, estimator: str) -> str:
    """One sentence on how accurate ``estimator``'s score is, from the published study."""
    source = (
        f"Measured by bench/score_study.py (commit {meta.get('commit', '?')}) over {meta['cohorts']} "
        f"independent simulated training cohorts of {meta['reference']} and {meta['lots']} unseen lots, "
        "not by this run"
    )
    rows = table[table["estimator"] == estimator]
    if rows.empty:
        return f"{source}; the study did not measure {estimator}."
    r = rows.iloc[0]
    return (
        f"{source}: {estimator} read lots {r['mean_signed_error']:+.3f} off on average (95 % CI "
        f"{r['mse_ci_low']:+.3f} to {r['mse_ci_high']:+.3f}), mean absolute error {r['mean_abs_error']:.3f}, "
        f"at most {r['max_abs_error']:.3f}; its 95 % intervals covered {r['coverage_95']:.0%} of lots, "
        f"{r['mean_half_width']:.3f} wide each way on average."
    )


def study_table(table: pd.DataFrame) -> pd.DataFrame:
    return table[[c for c in COLUMNS if c in table]].rename(columns=COLUMNS)
