"""One row per donor from the tables the two branches wrote: every number here is read or averaged from
a TSV of the same run, so a reader can trace it back."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Measures where a higher value means "more multipotent / more stem-like" are ranked 1 = highest;
# the rank columns make donors comparable across measures on different scales.
RANKED = (
    "ssea3_positive_fraction",
    "cnn_multipotent_fraction",
    "round_mode_fraction",
    "elongated_mode_fraction",
    "mean_circularity",
    "mean_aspect_ratio",
    "pc1_score",
    "mean_correlation",
    "differentiation_score",
)


@dataclass(frozen=True)
class Unavailable:
    """An optional measure this cohort cannot give, and why: the report shows it empty with the reason
    instead of dying, and every other measure is reported."""

    measure: str
    reason: str


def stem_sample_donors(samples: pd.DataFrame, condition: str = "stem") -> dict[str, str]:
    """sample -> donor for the samples of one condition that have an RNA-seq column."""
    rows = samples[(samples["condition"] == condition) & (samples["rnaseq_column"].fillna("") != "")]
    return dict(zip(rows["sample"], rows["donor"]))


def shape_mode_fractions(
    distribution: pd.DataFrame, modes: pd.DataFrame, round_circularity: float, elongated_aspect_ratio: float
) -> pd.DataFrame:
    """Per donor, the share of cells in round modes (mean circularity >= ``round_circularity``) and in
    elongated modes (mean aspect ratio >= ``elongated_aspect_ratio``); modes in neither count in neither."""
    modes = modes.set_index(modes["mode"].astype(str))
    shares = distribution.set_index("donor")
    shares.columns = shares.columns.astype(str)
    round_modes = [m for m in shares.columns if modes.loc[m, "circularity"] >= round_circularity]
    elongated = [m for m in shares.columns if modes.loc[m, "aspect_ratio"] >= elongated_aspect_ratio]
    return pd.DataFrame(
        {
            "round_mode_fraction": shares[round_modes].sum(axis=1),
            "elongated_mode_fraction": shares[elongated].sum(axis=1),
            "round_modes": ",".join(round_modes),
            "elongated_modes": ",".join(elongated),
        }
    )


def cell_shape_means(assignments: pd.DataFrame, donors: list[str] | None = None) -> pd.DataFrame:
    """Per donor: cells analysed, mean circularity and mean aspect ratio over its cells.

    ``donors`` lists every imaged donor: one whose images held no cell has no assignment rows, and must
    read 0 cells (its means undefined), not vanish or show an unknown count.
    """
    grouped = assignments.groupby("donor")
    table = pd.DataFrame(
        {
            "cells": grouped.size(),
            "mean_circularity": grouped["circularity"].mean(),
            "mean_aspect_ratio": grouped["aspect_ratio"].mean(),
        }
    )
    if donors is not None:
        table = table.reindex(sorted(set(table.index) | set(donors)))
        table["cells"] = table["cells"].fillna(0).astype(int)
    return table


def pc1_by_donor(scores: pd.DataFrame, sample_donor: Mapping[str, str]) -> pd.Series:
    """Each donor's stem sample's PC1 score (sign as the PCA gives it: PC signs are arbitrary)."""
    part = scores[scores["sample"].isin(sample_donor)]
    return pd.Series(
        part["PC1"].to_numpy(), index=part["sample"].map(sample_donor).to_numpy(), name="pc1_score"
    )


def mean_correlation(matrix: pd.DataFrame, sample_donor: Mapping[str, str]) -> pd.Series:
    """Mean Pearson r of each donor's stem sample to the other donors' stem samples (diagonal left out)."""
    square = matrix.set_index("sample")
    stems = [s for s in square.index if s in sample_donor]
    values = square.loc[stems, stems].to_numpy(dtype=float)
    np.fill_diagonal(values, np.nan)
    return pd.Series(
        np.nanmean(values, axis=1), index=[sample_donor[s] for s in stems], name="mean_correlation"
    )


def differentiation_score(
    heatmap: pd.DataFrame, sample_donor: Mapping[str, str], pattern: str
) -> pd.Series | Unavailable:
    """Mean -log10 FDR, over the function heat map's terms matching ``pattern``, of each donor's
    differentiated-vs-stem enrichment (the heat map of paper Fig. 5D). A cohort differentiated into
    another lineage, or treated, may have no such term: the score is then unavailable, with the terms
    the heat map does hold named so the user can widen the pattern."""
    matcher = re.compile(pattern, re.IGNORECASE)
    terms = heatmap[heatmap["term"].map(lambda t: bool(matcher.search(str(t))))]
    if terms.empty:
        held = ", ".join(map(str, heatmap["term"].head(5))) or "none (no term was enriched)"
        return Unavailable(
            "differentiation_score",
            f"no term of the function heat map matches report.differentiation_terms {pattern!r}; "
            f"its terms: {held}",
        )
    columns = [c for c in terms.columns if c in sample_donor]
    return pd.Series(
        terms[columns].mean(axis=0).to_numpy(),
        index=[sample_donor[c] for c in columns],
        name="differentiation_score",
    )


def donor_summary(parts: list[pd.DataFrame | pd.Series | Unavailable]) -> pd.DataFrame:
    """Outer-join the per-donor parts (indexed by donor) and add ``rank_<measure>`` (1 = highest); an
    unavailable measure becomes an empty column beside ``<measure>_note``, its reason."""
    known = [p for p in parts if not isinstance(p, Unavailable)]
    frames = [p.to_frame() if isinstance(p, pd.Series) else p for p in known]
    table = (pd.concat(frames, axis=1, join="outer") if frames else pd.DataFrame()).sort_index()
    for part in parts:
        if isinstance(part, Unavailable):
            table[part.measure] = np.nan
            table[f"{part.measure}_note"] = part.reason
    table.index.name = "donor"
    for measure in RANKED:
        if measure in table and table[measure].notna().any():
            table[f"rank_{measure}"] = table[measure].rank(ascending=False, method="min").astype("Int64")
    return table.reset_index()


CNN_COLUMNS = {
    "cross_validated": ("cv_predicted_fraction", "cv_ci_low", "cv_ci_high"),
    "final": ("predicted_multipotent_fraction", "ci_low", "ci_high"),
    "adjusted": ("cv_pacc_fraction", "cv_pacc_low", "cv_pacc_high"),
}


def cnn_fraction(donors: pd.DataFrame, which: str) -> pd.DataFrame | Unavailable:
    """The CNN's per-donor multipotent fraction and 95 % interval: ``cross_validated`` (each cell scored by
    a model that never trained on it), ``final`` (the paper's Fig. 4F: the final model on every cell) or
    ``adjusted`` (the cross-validated probabilities as a prevalence estimate, PACC)."""
    if which not in CNN_COLUMNS:
        raise ValueError(f"report.cnn_fraction must be one of {', '.join(CNN_COLUMNS)}, not {which!r}")
    value, low, high = CNN_COLUMNS[which]
    if donors.empty or not {"donor", value, low, high} <= set(donors.columns):
        reason = donors["reason"].iloc[0] if "reason" in donors and len(donors) else "no donor fractions"
        return Unavailable("cnn_multipotent_fraction", f"results/cnn/donor_multipotency.tsv: {reason}")
    out = donors.set_index("donor")[[value, low, high]]
    out.columns = ["cnn_multipotent_fraction", "cnn_ci_low", "cnn_ci_high"]
    return out


def unavailable(parts: list[pd.DataFrame | pd.Series | Unavailable]) -> pd.DataFrame:
    """measure, reason: what the report lists as not computed for this cohort."""
    rows = [{"measure": p.measure, "reason": p.reason} for p in parts if isinstance(p, Unavailable)]
    return pd.DataFrame(rows, columns=["measure", "reason"])
