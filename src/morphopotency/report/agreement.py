"""Does the imaging prediction order the donors as the transcriptome does? Spearman's rho with an exact
permutation p-value, and one plain sentence per donor, all from the donor table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import permutation_test, spearmanr

LABELS = {
    "cnn_multipotent_fraction": "CNN-predicted multipotent fraction",
    "ssea3_positive_fraction": "SSEA3-positive fraction",
    "round_mode_fraction": "fraction in round shape modes",
    "pc1_score": "RNA-seq PC1 score",
    "mean_correlation": "mean correlation to the other donors",
    "differentiation_score": "differentiation score",
}


def spearman_exact(
    x: np.ndarray, y: np.ndarray, max_exact: int = 8, n_resamples: int = 20_000, seed: int = 0
) -> dict[str, float | int | str]:
    """Spearman rho and its two-sided permutation p-value.

    With n <= ``max_exact`` donors every pairing is enumerated (n! of them), so the p-value is exact and
    its floor is visible: with 5 donors the smallest possible two-sided p is 2/120 = 0.017. Above that,
    ``n_resamples`` random pairings (scipy adds the observed one, so p is never 0).
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {
            "donors": n,
            "rho": float("nan"),
            "p_value": float("nan"),
            "p_floor": float("nan"),
            "method": "not computable (fewer than 3 donors or a constant measure)",
        }
    exact = n <= max_exact
    result = permutation_test(
        (x, y),
        lambda a, b: spearmanr(a, b).statistic,
        permutation_type="pairings",
        alternative="two-sided",
        n_resamples=np.inf if exact else n_resamples,
        rng=np.random.default_rng(seed),
    )
    floor = 2 / math.factorial(n) if exact else 2 / (n_resamples + 1)
    return {
        "donors": n,
        "rho": float(result.statistic),
        "p_value": float(min(result.pvalue, 1.0)),
        "p_floor": floor,
        "method": f"exact ({math.factorial(n)} pairings)"
        if exact
        else f"Monte Carlo ({n_resamples} pairings)",
    }


def agreement_table(summary: pd.DataFrame, imaging: list[str], transcriptome: list[str]) -> pd.DataFrame:
    """One row per imaging × transcriptome measure, on the donors that have both."""
    rows = []
    for a in imaging:
        for b in transcriptome:
            if a not in summary or b not in summary:
                continue
            both = summary[["donor", a, b]].dropna()
            rows.append(
                {
                    "imaging_measure": a,
                    "transcriptome_measure": b,
                    "donor_list": ",".join(both["donor"]),
                    **spearman_exact(both[a].to_numpy(), both[b].to_numpy()),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "imaging_measure",
            "transcriptome_measure",
            "donor_list",
            "donors",
            "rho",
            "p_value",
            "p_floor",
            "method",
        ],
    )


def _ordinal(rank: int, total: int) -> str:
    if rank == 1:
        return "highest"
    if rank == total:
        return "lowest"
    return f"rank {rank} of {total}"


def donor_sentences(summary: pd.DataFrame, primary: str, others: list[str]) -> pd.DataFrame:
    """A sentence per donor from its numbers and ranks, e.g. "S8: highest CNN-predicted multipotent
    fraction (0.62, 95 % CI 0.52-0.71); RNA-seq PC1 score: also highest (9.27)"."""
    rows = []
    if primary not in summary:
        return pd.DataFrame(rows, columns=["donor", "sentence"])
    total = int(summary[primary].notna().sum())
    for _, row in summary.iterrows():
        if pd.isna(row[primary]):
            continue
        rank = int(row[f"rank_{primary}"])
        head = f"{row['donor']}: {_ordinal(rank, total)} {LABELS.get(primary, primary)} ({row[primary]:.2f}"
        if primary == "cnn_multipotent_fraction" and pd.notna(row.get("cnn_ci_low")):
            head += f", 95 % CI {row['cnn_ci_low']:.2f}-{row['cnn_ci_high']:.2f}"
        parts = [head + ")"]
        for measure in others:
            if measure not in summary or pd.isna(row[measure]):
                continue
            other_total = int(summary[measure].notna().sum())
            other_rank = int(row[f"rank_{measure}"])
            same = " also" if other_rank == rank and other_total == total else ""
            parts.append(
                f"{LABELS.get(measure, measure)}:{same} {_ordinal(other_rank, other_total)} "
                f"({row[measure]:.4g})"
            )
        rows.append({"donor": row["donor"], "sentence": "; ".join(parts) + "."})
    return pd.DataFrame(rows, columns=["donor", "sentence"])
