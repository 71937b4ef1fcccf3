"""The replicated validation study's tables as the reports quote them: measured by bench/score_study.py over
independent simulated cohorts and, in its real-cell arm, cohorts of real labelled crops (``--publish``
writes both to resources/validation/), not by the run that shows them, and said so wherever shown."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from morphopotency.prevalence import CROSS_FITTED
from morphopotency.score.bands import BANDS

STUDY = "resources/validation/score_study.tsv"
STUDY_META = "resources/validation/score_study.json"
STUDY_REAL = "resources/validation/score_study_real.tsv"  # the real-cell arm, where it ran (meta "real")
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


@dataclass(frozen=True)
class Study:
    """The published study: the simulated arm's table and its meta, and the real arm's table where it
    ran (its meta: ``meta['real']``)."""

    table: pd.DataFrame
    meta: dict
    real: pd.DataFrame | None = None

    def sentence(self, estimator: str) -> str:
        """How accurate ``estimator``'s score is, in each arm."""
        text = study_sentence(self.table, self.meta, estimator)
        if self.real is not None and "real" in self.meta:
            text += " On real cells: " + study_sentence(self.real, self.meta["real"], estimator, "real-cell")
        return text

    def tables(self) -> list[tuple[pd.DataFrame, str]]:
        """(table, caption) of each arm, labelled."""
        out = [(study_table(self.table), "the replicated study, simulated cohorts (resources/validation)")]
        if self.real is not None:
            out.append(
                (study_table(self.real), "the replicated study, real-cell cohorts (resources/validation)")
            )
        return out

    def quote(self, brief: bool = False) -> str:
        return study_quote(self.table, self.meta, self.real, brief)


def study_files(basedir: str | Path) -> list[str]:
    """The published study's files in the workflow folder (the real arm's last, where it ran), or none
    where no study was published."""
    paths = [Path(basedir) / STUDY, Path(basedir) / STUDY_META]
    if not all(p.is_file() for p in paths):
        return []
    real = Path(basedir) / STUDY_REAL
    return [str(p) for p in paths] + ([str(real)] if real.is_file() else [])


def read_study(files: list[str]) -> Study | None:
    if not files:
        return None
    real = pd.read_csv(files[2], sep="\t") if len(files) > 2 else None
    return Study(pd.read_csv(files[0], sep="\t"), json.loads(Path(files[1]).read_text()), real)


def study_sentence(table: pd.DataFrame, meta: dict, estimator: str, arm: str = "simulated") -> str:
    """One sentence on how accurate ``estimator``'s score is, from one arm of the published study."""
    source = (
        f"Measured by bench/score_study.py (commit {meta.get('commit', '?')}) over {meta['cohorts']} "
        f"independent {arm} training cohorts of {meta['reference']} and {meta['lots']} unseen lots, "
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


QUOTE_START, QUOTE_END = "<!-- study-table -->", "<!-- /study-table -->"


def study_markdown(table: pd.DataFrame, deployed: str, meta: dict | None = None) -> str:
    """The study's table as the README and the methods quote it, the deployed estimator in bold."""
    lines = []
    if meta:
        lines += [
            f"{meta['lots']} unseen lots of {meta['cohorts']} independent training cohorts "
            f"({meta['reference']}); `{meta['command']}` at commit {meta['commit']}.",
            "",
        ]
    lines += [
        "| estimator | lots | mean signed error (95 % CI) | MAE | max | slope (95 % CI) | coverage | "
        "coverage 0-0.2 / 0.2-0.8 / 0.8-1 | mean half-width |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.to_dict("records"):
        name = f"**{r['estimator']}** (deployed)" if r["estimator"] == deployed else r["estimator"]
        bands = " / ".join(f"{r[f'coverage_{band}']:.0%}" for _, _, band in BANDS)
        lines.append(
            f"| {name} | {r['lots']} | {r['mean_signed_error']:+.3f} ({r['mse_ci_low']:+.3f} to "
            f"{r['mse_ci_high']:+.3f}) | {r['mean_abs_error']:.3f} | {r['max_abs_error']:.3f} | "
            f"{r['slope']:+.3f} ({r['slope_ci_low']:+.3f} to {r['slope_ci_high']:+.3f}) | "
            f"{r['coverage_95']:.0%} | {bands} | {r['mean_half_width']:.3f} |"
        )
    return "\n".join(lines) + "\n"


ESTIMATOR_NOTE = (
    "pacc_cross is the score as deployed, its scorer chosen by each cohort's own reference "
    "(score.model auto); pacc_cross_cnn, _shape and _combined hold the scorer fixed."
)


# Where the published study is quoted, and whether briefly: the README the cross-fitted rows, the paper's
# count and the holds of each arm; the methods everything.
QUOTED_IN = {"README.md": True, "docs/METHODS.md": False}


def study_quote(
    table: pd.DataFrame, meta: dict, real: pd.DataFrame | None = None, brief: bool = False
) -> str:
    """What the README (``brief``) and the methods quote from a published study, each arm under its own
    label: the simulated arm's, then the real-cell arm's where it ran (``real``, its meta
    ``meta['real']``)."""
    text = "**Simulated cohorts.** " + _arm_quote(table, meta, brief)
    if real is not None and "real" in meta:
        text += "\n**Real cells.** " + _arm_quote(real, meta["real"], brief)
    if brief:
        text += (
            "\nEvery estimator, and the errors by cohort and by band: docs/METHODS.md, "
            "'How accurate is a score'.\n"
        )
    return text


def _arm_quote(table: pd.DataFrame, meta: dict, brief: bool = False) -> str:
    """One arm: the table, the scorers the runs chose, the variance of the deployed interval by part, its
    errors by cohort and by band against what its intervals allow, the reference's SSEA3 labels, the larger
    reference's deployed row, and the drift and QC checks' holds; ``brief``: the table's cross-fitted rows
    and the paper's count, the scorers and the holds."""
    deployed = meta.get("deployed", "")
    sep = meta.get("separability")
    lead = (
        f"Shape alone separates its {sep['crops']} crops' two groups at balanced accuracy "
        f"{sep['balanced_accuracy']:.2f} (ROC-AUC {sep['roc_auc']:.2f}; a logistic regression on Otsu-mask "
        "measures, 5-fold).\n\n"
        if sep
        else ""
    )
    if brief:
        table = table[(table["estimator"] == "cc") | table["estimator"].str.startswith(CROSS_FITTED)]
    text = lead + study_markdown(table, deployed, meta)
    chosen = meta.get("scorers_chosen")
    if chosen:
        counts = ", ".join(
            f"{name} in {n} cohort{'s' if n != 1 else ''}" for name, n in sorted(chosen.items())
        )
        text += f"\n{ESTIMATOR_NOTE} The runs chose {counts}"
        rule = meta.get("scorer_rule", {})
        if rule.get("cohorts"):
            text += (
                f"; the choice was the scorer whose lots' intervals came out narrowest in "
                f"{rule['chose_narrowest']} of {rule['cohorts']} cohorts"
            )
        text += ".\n"
    if brief:
        return text + _holds_markdown(meta.get("holds"))
    shares = meta.get("variance")
    if shares:
        text += (
            f"\nThe deployed interval's variance, mean over lots: lot cells {shares['lot']:.0%}, reference "
            f"donors' labelled cells {shares['reference']:.0%}, the rest of the spread between reference "
            f"donors {shares['donors']:.0%}.\n"
        )
    by_cohort = meta.get("by_cohort")
    if by_cohort:
        text += (
            "\nThe deployed estimator's mean error by cohort (whose lots share one set of reference error "
            "rates), in units of the sd its intervals give that mean: "
            + ", ".join(f"{c['cohort']} {c['mean_signed_error']:+.3f} ({c['z']:+.1f})" for c in by_cohort)
        )
        shared = meta.get("shared_calibration")
        if shared:
            text += (
                f"; rms {shared['rms_z']:.2f}, chi-square {shared['chi2']:.1f} on {shared['cohorts']} "
                f"degrees of freedom, p = {shared['p']:.2f} (rms 1 when the intervals allow for the error a "
                "cohort shares)"
            )
        text += ".\n"
    calibration = meta.get("calibration")
    if calibration:
        text += (
            "\nIts lots' errors in units of each lot's own interval sd (root mean square, 1 when the "
            "intervals are as wide as the errors need, above 1 when too narrow; 95 % CI over cohorts): "
            + ", ".join(
                f"{'every lot' if c['band'] == 'all' else c['band']} {c['rms_z']:.2f} "
                f"({c['ci_low']:.2f}-{c['ci_high']:.2f}; {c['lots']} lots)"
                for c in calibration
            )
            + ".\n"
        )
    labels = meta.get("labels")
    if labels:
        regions = {"whole": "over the whole cell", "inner": "over its inner half"}
        text += (
            "\nSSEA3 labels of the reference donors' cells against the classes planted: "
            + "; ".join(
                f"{regions.get(r['region'], r['region'])}, {r['multipotent_labelled_negative']} of "
                f"{r['multipotent']} multipotent cells labelled negative and "
                f"{r['other_labelled_positive']} of {r['other']} others positive"
                for r in labels
            )
            + ".\n"
        )
    large = meta.get("large")
    if large:
        row = pd.DataFrame([large["row"]])
        text += (
            f"\nWith a larger reference ({large['reference']}; {large['lots']} lots of one cohort):\n\n"
            + study_markdown(row, deployed)
            + f"\nIts interval's variance: lot cells {large['variance']['lot']:.0%}, reference donors' "
            f"labelled cells {large['variance']['reference']:.0%}, "
            f"the rest {large['variance']['donors']:.0%}.\n"
        )
    return text + _holds_markdown(meta.get("holds"))


def _holds_markdown(holds: list[dict] | None) -> str:
    if not holds:
        return ""
    text = "\n| lots | held by the drift and QC checks | share held |\n|---|---|---|\n"
    return text + "".join(
        f"| {h['drift']} ({h['lots']}) | {h['held']} | {h['share_held']:.0%} |\n" for h in holds
    )


def quoted_study(text: str) -> str:
    """What a document quotes between its study markers (stripped); '' where it has none."""
    if QUOTE_START not in text:
        return ""
    return text.split(QUOTE_START, 1)[1].split(QUOTE_END, 1)[0].strip()


def quote_study(text: str, markdown: str) -> str:
    """``text`` with ``markdown`` between its study markers (a document without them is refused)."""
    if QUOTE_START not in text or QUOTE_END not in text:
        raise ValueError(f"no {QUOTE_START} ... {QUOTE_END} markers to quote the study between")
    head, rest = text.split(QUOTE_START, 1)
    return f"{head}{QUOTE_START}\n{markdown.strip()}\n{QUOTE_END}{rest.split(QUOTE_END, 1)[1]}"
