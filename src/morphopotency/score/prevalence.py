"""A donor's multipotent fraction as a class-prevalence estimate, not a count of calls.

Counting the cells a classifier calls positive (classify and count, CC) is pulled towards the prevalence
the classifier was trained on: a donor richer in multipotent cells than the reference cohort reads low,
a poorer one high, by (1 - tpr - fpr) times the distance. The adjusted estimators undo that with the
classifier's error rates, measured on reference cells it never trained on (cross-validated predictions):

- ``cc``:   mean of (prob >= threshold); the paper's Fig. 4F.
- ``acc``:  adjusted CC, (CC - fpr) / (tpr - fpr), clipped to [0, 1] (Forman 2008).
- ``pcc``:  mean probability (probabilistic CC).
- ``pacc``: (PCC - mean prob of negatives) / (mean prob of positives - mean prob of negatives), clipped
  (Bella et al. 2010).
- ``em``:   Saerens, Latinne & Decaestecker (2002): the posteriors re-weighted to a new prior until the
  prior equals their mean; the training prior is the one the model's posteriors are calibrated to.

Intervals (``bootstrap_interval``) resample the reference cells (so the error rates' own uncertainty is
in them) and the donor's cells together. Written by hand because the estimators are a few lines of
arithmetic each; QuaPy (the reference library) is used by the tests to check them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METHODS = ("cc", "acc", "pcc", "pacc", "em")


@dataclass(frozen=True)
class Reference:
    """Held-out predictions on labelled reference cells: what the error rates are measured on."""

    labels: np.ndarray  # 0/1
    prob: np.ndarray  # P(multipotent), from a model that never trained on the cell
    threshold: float | np.ndarray  # the calls' cut-off: one, or one per cell (each cell's own model's)
    train_prior: float  # the positive share the posteriors are calibrated to (the training prevalence)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.shape != np.asarray(self.prob).shape or labels.ndim != 1:
            raise ValueError("reference labels and probabilities must be two vectors of one length")
        if not ({0, 1} <= set(np.unique(labels).tolist())):
            raise ValueError("the reference cells must hold both classes to measure the error rates")

    def rates(self) -> tuple[float, float]:
        """(tpr, fpr) of the calls at ``threshold``."""
        calls = np.asarray(self.prob) >= np.asarray(self.threshold)
        labels = np.asarray(self.labels).astype(bool)
        return float(calls[labels].mean()), float(calls[~labels].mean())

    def soft_rates(self) -> tuple[float, float]:
        """Mean probability of the positive and of the negative reference cells."""
        prob, labels = np.asarray(self.prob, float), np.asarray(self.labels).astype(bool)
        return float(prob[labels].mean()), float(prob[~labels].mean())


def _adjust(estimate: float, positive_rate: float, negative_rate: float) -> float:
    gap = positive_rate - negative_rate
    if gap <= 0:  # a classifier no better than chance cannot be inverted
        return float("nan")
    return float(np.clip((estimate - negative_rate) / gap, 0.0, 1.0))


def em_prior(prob: np.ndarray, train_prior: float, tol: float = 1e-6, max_iter: int = 1000) -> float:
    """Saerens et al. (2002): the positive prior at which the re-weighted posteriors' mean equals it."""
    prob = np.clip(np.asarray(prob, float), 1e-12, 1 - 1e-12)
    base = float(np.clip(train_prior, 1e-6, 1 - 1e-6))
    prior = base
    for _ in range(max_iter):
        pos = prob * prior / base
        neg = (1 - prob) * (1 - prior) / (1 - base)
        new = float(np.mean(pos / (pos + neg)))
        if abs(new - prior) < tol:
            return new
        prior = new
    return prior


def estimate(
    method: str, reference: Reference, prob: np.ndarray, threshold: float | np.ndarray | None = None
) -> float:
    """The positive prevalence among cells with probabilities ``prob`` by ``method`` (one of METHODS);
    ``threshold`` is the cells' cut-off (one, or one per cell), by default the reference's (one)."""
    prob = np.asarray(prob, float)
    if prob.size == 0:
        return float("nan")
    cut = np.asarray(reference.threshold if threshold is None else threshold)
    if method == "cc":
        return float(np.mean(prob >= cut))
    if method == "acc":
        return _adjust(float(np.mean(prob >= cut)), *reference.rates())
    if method == "pcc":
        return float(np.mean(prob))
    if method == "pacc":
        return _adjust(float(np.mean(prob)), *reference.soft_rates())
    if method == "em":
        return em_prior(prob, reference.train_prior)
    raise ValueError(f"unknown prevalence method {method!r} (known: {', '.join(METHODS)})")


def bootstrap_interval(
    method: str,
    reference: Reference,
    prob: np.ndarray,
    threshold: float | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval over bootstrap resamples of the reference cells and of the donor's cells."""
    prob = np.asarray(prob, float)
    cut = np.broadcast_to(
        np.asarray(reference.threshold if threshold is None else threshold, float), prob.shape
    )
    ref_cut = np.broadcast_to(np.asarray(reference.threshold, float), np.shape(reference.prob))
    if prob.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    labels, ref_prob = np.asarray(reference.labels), np.asarray(reference.prob, float)
    values = []
    for _ in range(n_boot):
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].min() == labels[rows].max():  # a resample with one class measures no rates
            continue
        ref = Reference(labels[rows], ref_prob[rows], ref_cut[rows], reference.train_prior)
        cells = rng.integers(0, len(prob), len(prob))
        values.append(estimate(method, ref, prob[cells], cut[cells]))
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def cells_needed(
    reference: Reference, half_width: float, prevalence: float = 0.5, level: float = 0.95
) -> int:
    """Cells a new donor needs for an adjusted-count interval of +/- ``half_width`` (cell sampling alone).

    ACC divides a binomial proportion by (tpr - fpr): its standard error is
    sqrt(q (1 - q) / n) / (tpr - fpr), q = fpr + prevalence (tpr - fpr) the share of positive calls.
    """
    from scipy.stats import norm

    tpr, fpr = reference.rates()
    gap = tpr - fpr
    if gap <= 0:
        return -1
    q = fpr + prevalence * gap
    z = float(norm.ppf(0.5 + level / 2))
    return int(np.ceil(q * (1 - q) * (z / (half_width * gap)) ** 2))


def choose_estimator(setting: str, lodo: pd.DataFrame | None) -> tuple[str, str]:
    """(estimator, why). ``auto`` takes the one the training run's leave-one-donor-out validation found
    most accurate among those whose 95 % intervals covered at least 80 % of the held-out donors: by the
    mean absolute error over artificial prevalences 0.05-0.95 (morphopotency.cnn.lodo), or, for a bundle
    without that sweep, at the donors' own fractions. Which one wins depends on how well the CNN
    separates the classes and how many cells a donor has, so the reference cohort decides, not a fixed
    rule; the held-out donors' own fractions alone would favour counting, whose pull towards the
    training prevalence is smallest exactly where they lie."""
    if setting != "auto":
        return setting, "set in the config (score.estimator)"
    if lodo is None or lodo.empty:
        return (
            "pacc",
            "auto, and the bundle holds no leave-one-donor-out validation: PACC, unbiased by design",
        )
    ok = lodo[lodo["intervals_covering"] >= 0.8 * lodo["donors"]]
    pool = ok if len(ok) else lodo
    swept = "sweep_mean_abs_error" in pool and pool["sweep_mean_abs_error"].notna().any()
    key = "sweep_mean_abs_error" if swept else "mean_abs_error"
    best = pool.sort_values([key, "estimator"], kind="stable").iloc[0]
    where = "over artificial prevalences 0.05-0.95" if swept else "at the held-out donors' fractions"
    return str(best["estimator"]), (
        f"auto: lowest leave-one-donor-out mean absolute error {where} ({best[key]:.3f}; "
        f"{int(best['intervals_covering'])} of {int(best['donors'])} intervals covering) of the training run"
    )
