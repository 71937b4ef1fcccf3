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
- ``acc_donor``, ``pacc_donor``: ACC and PACC with the error rates moved by the donor shift
  (``DonorShift``): a new lot is a new donor, and a model's rates on held-out images of donors it trained
  on understate its errors on a donor it never saw. The leave-one-donor-out models measure by how much.

Intervals (``bootstrap_interval``) resample the reference cells (so the error rates' own uncertainty is
in them) and the donor's cells together. Written by hand because the estimators are a few lines of
arithmetic each; QuaPy (the reference library) is used by the tests to check them.

Below both the CNN stage (its donor fractions and leave-one-donor-out validation) and scoring, which
both estimate with it: neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METHODS = ("cc", "acc", "pcc", "pacc", "em", "acc_donor", "pacc_donor")
SHIFTED = ("acc_donor", "pacc_donor")
CROSS_FITTED = "pacc_cross"  # needs the leave-one-donor-out models themselves (CrossFit), not one reference
PARTS = ("lot", "reference", "donors")  # the interval's variance, by source (CrossFit.variance_parts)
INTERVAL_PARTS = ("lot", "donors")  # what the interval resamples (CrossFit.bootstrap)


@dataclass(frozen=True)
class DonorShift:
    """Per leave-one-donor-out model: its error rates on the donor it never saw minus those on its own
    validation cells (held-out images of the donors it trained on). Their mean is the training recipe's
    shift from held-out images to a new donor; NaN where a donor lacks a class."""

    donors: np.ndarray
    tpr: np.ndarray
    fpr: np.ndarray
    soft_pos: np.ndarray
    soft_neg: np.ndarray

    COLUMNS = ("tpr", "fpr", "soft_pos", "soft_neg")

    def mean(self, soft: bool) -> tuple[float, float]:
        """(positive-rate, negative-rate) shift: of the mean probabilities (soft) or of the calls; 0 for a
        class no donor measured (no donor left, or none holding it): no evidence of a shift."""
        pos, neg = (self.soft_pos, self.soft_neg) if soft else (self.tpr, self.fpr)
        pos, neg = np.asarray(pos, float), np.asarray(neg, float)
        return (
            float(np.mean(pos[np.isfinite(pos)])) if np.isfinite(pos).any() else 0.0,
            float(np.mean(neg[np.isfinite(neg)])) if np.isfinite(neg).any() else 0.0,
        )

    def take(self, rows: np.ndarray) -> DonorShift:
        return DonorShift(*(np.asarray(getattr(self, f))[rows] for f in ("donors", *self.COLUMNS)))

    def without(self, donor: str) -> DonorShift:
        """The shift measured on the other donors: what a held-out donor's own estimate may use."""
        return self.take(np.asarray(self.donors) != donor)

    def to_table(self) -> pd.DataFrame:
        return pd.DataFrame({"donor": self.donors, **{f: getattr(self, f) for f in self.COLUMNS}})

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> DonorShift:
        missing = [c for c in ("donor", *cls.COLUMNS) if c not in table]
        if missing:
            raise ValueError(f"donor shift table lacks column(s) {', '.join(missing)}")
        return cls(table["donor"].astype(str).to_numpy(), *(table[c].to_numpy(float) for c in cls.COLUMNS))


@dataclass(frozen=True)
class Reference:
    """Held-out predictions on labelled reference cells: what the error rates are measured on."""

    labels: np.ndarray  # 0/1
    prob: np.ndarray  # P(multipotent), from a model that never trained on the cell
    threshold: float | np.ndarray  # the calls' cut-off: one, or one per cell (each cell's own model's)
    train_prior: float  # the positive share the posteriors are calibrated to (the training prevalence)
    shift: DonorShift | None = None  # from held-out images to a new donor (the *_donor estimators)

    def __post_init__(self) -> None:
        labels = np.asarray(self.labels)
        if labels.shape != np.asarray(self.prob).shape or labels.ndim != 1:
            raise ValueError("reference labels and probabilities must be two vectors of one length")
        if not ({0, 1} <= set(np.unique(labels).tolist())):
            raise ValueError("the reference cells must hold both classes to measure the error rates")

    def rates(self, shifted: bool = False) -> tuple[float, float]:
        """(tpr, fpr) of the calls at ``threshold``; ``shifted``: moved to a new donor's."""
        calls = np.asarray(self.prob) >= np.asarray(self.threshold)
        labels = np.asarray(self.labels).astype(bool)
        return self._shifted(float(calls[labels].mean()), float(calls[~labels].mean()), False, shifted)

    def soft_rates(self, shifted: bool = False) -> tuple[float, float]:
        """Mean probability of the positive and of the negative reference cells."""
        prob, labels = np.asarray(self.prob, float), np.asarray(self.labels).astype(bool)
        return self._shifted(float(prob[labels].mean()), float(prob[~labels].mean()), True, shifted)

    def _shifted(self, pos: float, neg: float, soft: bool, shifted: bool) -> tuple[float, float]:
        if not shifted:
            return pos, neg
        if self.shift is None:
            raise ValueError(
                "the *_donor estimators need the donor shift of a leave-one-donor-out validation "
                "(cnn.lodo: true in the training run; bundle reference/donor_shift.tsv)"
            )
        d_pos, d_neg = self.shift.mean(soft)
        return float(np.clip(pos + d_pos, 0.0, 1.0)), float(np.clip(neg + d_neg, 0.0, 1.0))


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
    if method in ("acc", "acc_donor"):
        return _adjust(float(np.mean(prob >= cut)), *reference.rates(method in SHIFTED))
    if method == "pcc":
        return float(np.mean(prob))
    if method in ("pacc", "pacc_donor"):
        return _adjust(float(np.mean(prob)), *reference.soft_rates(method in SHIFTED))
    if method == "em":
        return em_prior(prob, reference.train_prior)
    raise ValueError(f"unknown prevalence method {method!r} (known: {', '.join(METHODS)})")


def bootstrap_values(
    method: str,
    reference: Reference,
    prob: np.ndarray,
    threshold: float | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> np.ndarray:
    """``method``'s estimates over bootstrap resamples of the reference cells and of the donor's cells,
    and for the *_donor estimators of the leave-one-donor-out models whose shift they use (finite ones)."""
    prob = np.asarray(prob, float)
    if prob.size == 0:
        return np.empty(0)
    cut = np.broadcast_to(
        np.asarray(reference.threshold if threshold is None else threshold, float), prob.shape
    )
    ref_cut = np.broadcast_to(np.asarray(reference.threshold, float), np.shape(reference.prob))
    rng = np.random.default_rng(seed)
    labels, ref_prob = np.asarray(reference.labels), np.asarray(reference.prob, float)
    values = []
    for _ in range(n_boot):
        rows = rng.integers(0, len(labels), len(labels))
        if labels[rows].min() == labels[rows].max():  # a resample with one class measures no rates
            continue
        shift = reference.shift
        if method in SHIFTED and shift is not None:
            shift = shift.take(rng.integers(0, len(shift.donors), len(shift.donors)))
        ref = Reference(labels[rows], ref_prob[rows], ref_cut[rows], reference.train_prior, shift)
        cells = rng.integers(0, len(prob), len(prob))
        values.append(estimate(method, ref, prob[cells], cut[cells]))
    values = np.asarray(values, float)
    return values[np.isfinite(values)]


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    if np.size(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_interval(
    method: str,
    reference: Reference,
    prob: np.ndarray,
    threshold: float | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval over ``bootstrap_values``."""
    return percentile_interval(bootstrap_values(method, reference, prob, threshold, n_boot, seed), level)


def cells_needed(
    reference: Reference,
    half_width: float,
    prevalence: float = 0.5,
    level: float = 0.95,
    method: str = "acc",
) -> int:
    """Cells a new donor needs for a ``method`` interval of +/- ``half_width`` (cell sampling alone).

    ACC divides a binomial proportion by (tpr - fpr): its standard error is
    sqrt(q (1 - q) / n) / (tpr - fpr), q = fpr + prevalence (tpr - fpr) the share of positive calls; the
    other counts (cc, pcc, em) are given ACC's. PACC divides a mean probability by the gap between the
    classes' mean probabilities: sd / sqrt(n) / gap, sd that of the reference positives' and negatives'
    probabilities mixed at ``prevalence``. The *_donor forms use the rates moved by the donor shift.
    """
    from scipy.stats import norm

    shifted = method in SHIFTED
    z = float(norm.ppf(0.5 + level / 2))
    if method in ("pacc", "pacc_donor"):
        pos, neg = reference.soft_rates(shifted)
        gap = pos - neg
        if gap <= 0:
            return -1
        prob, labels = np.asarray(reference.prob, float), np.asarray(reference.labels).astype(bool)
        variance = (
            prevalence * prob[labels].var()
            + (1 - prevalence) * prob[~labels].var()
            + prevalence * (1 - prevalence) * gap**2
        )
        return int(np.ceil(variance * (z / (half_width * gap)) ** 2))
    tpr, fpr = reference.rates(shifted)
    gap = tpr - fpr
    if gap <= 0:
        return -1
    q = fpr + prevalence * gap
    return int(np.ceil(q * (1 - q) * (z / (half_width * gap)) ** 2))


def choose_estimator(
    setting: str, lodo: pd.DataFrame | None, max_bias: float = 0.03, cross_fitted: bool = False
) -> tuple[str, str]:
    """(estimator, why). ``auto`` takes, of the estimators whose 95 % intervals covered at least 80 % of
    the training run's held-out donors and whose bias over artificial prevalences 0.05-0.95 (mean absolute
    signed error, morphopotency.cnn.lodo) is at most ``max_bias``, the one with the lowest mean absolute
    error over those prevalences; where none is that unbiased, the lowest error among the covering ones,
    and for a bundle without the sweep, the lowest error at the donors' own fractions. Bias first: it
    moves every lot's estimate the same way, which no number of cells averages out, while the error's
    random part shows in each lot's interval. Which estimator wins depends on how well the CNN separates
    the classes and how many cells a donor has, so the reference cohort decides, not a fixed rule; the
    held-out donors' own fractions alone would favour counting, whose pull towards the training
    prevalence is smallest exactly where they lie."""
    if setting != "auto":
        return setting, "set in the config (score.estimator)"
    if cross_fitted:
        return CROSS_FITTED, (
            "auto, and the bundle holds the leave-one-donor-out models: cross-fitted PACC, whose error rates "
            "are those of the very models that score the lot, each on a donor it never saw"
        )
    if lodo is None or lodo.empty:
        return (
            "pacc",
            "auto, and the bundle holds no leave-one-donor-out validation: PACC, unbiased by design",
        )
    ok = lodo[lodo["intervals_covering"] >= 0.8 * lodo["donors"]]
    pool = ok if len(ok) else lodo
    swept = "sweep_mean_abs_error" in pool and pool["sweep_mean_abs_error"].notna().any()
    unbiased = pool[pool["sweep_bias"] <= max_bias] if swept and "sweep_bias" in pool else pool.iloc[:0]
    if len(unbiased):
        pool = unbiased
    key = "sweep_mean_abs_error" if swept else "mean_abs_error"
    best = pool.sort_values([key, "estimator"], kind="stable").iloc[0]
    where = "over artificial prevalences 0.05-0.95" if swept else "at the held-out donors' fractions"
    among = f"bias at most {max_bias:g} there, " if len(unbiased) else ""
    return str(best["estimator"]), (
        f"auto: lowest leave-one-donor-out mean absolute error {where} ({best[key]:.3f}; {among}"
        f"{int(best['intervals_covering'])} of {int(best['donors'])} intervals covering) of the training run"
    )


@dataclass(frozen=True)
class CrossFit:
    """Cross-fitted error rates for ``pacc_cross``: each leave-one-donor-out model's mean probability of
    the positive and of the negative cells of the one reference donor it never saw.

    A new lot is a donor none of the models saw. Each model's mean probability of the lot is corrected
    (PACC) by its own rates on its own unseen donor, pooled over the models as a ratio of means
    (``_raw``): the rates describe the very models that score the lot, on a donor they never trained on,
    so no shift from held-out images to a new donor needs correcting. Every reference cell's
    out-of-donor prediction is used (not the final model's ~30 % held-out share), and donor-to-donor
    spread of the rates enters the interval as what it is.

    With ``weights`` (each reference cell's edge correction, imaging.cells.edge_weights) the rates are
    weighted means, and so is a lot's mean probability where its cells' weights are given: both then
    describe the donor's cells, not those a field of one size happens to keep whole."""

    donors: np.ndarray  # (K,) the donor each model left out
    labels: tuple[np.ndarray, ...]  # per model: its left-out donor's 0/1 labels
    prob: tuple[np.ndarray, ...]  # per model: its P(multipotent) of those cells
    weights: tuple[np.ndarray, ...] | None = None  # per model: those cells' edge weights (None: all 1)

    @classmethod
    def from_predictions(cls, predictions: pd.DataFrame, weights: pd.Series | None = None) -> CrossFit:
        """From the LODO models' predictions (held_out, role, label, prob; cell where ``weights``, a
        Series indexed by cell, gives each cell's edge weight): their ``test`` rows, each model's cells of
        the donor it left out."""
        test = predictions[predictions["role"] == "test"]
        if test.empty:
            raise ValueError(
                "cross-fitting needs the leave-one-donor-out models' predictions of their donors"
            )
        parts = [part for _, part in test.groupby("held_out", sort=True)]
        weighted = None
        if weights is not None:
            weighted = tuple(p["cell"].map(weights).to_numpy(float) for p in parts)
            if any(not np.all(np.isfinite(w) & (w > 0)) for w in weighted):
                raise ValueError("an edge weight is missing, or not positive, for a reference cell")
        return cls(
            np.asarray([str(p["held_out"].iloc[0]) for p in parts], dtype=object),
            tuple(p["label"].to_numpy().astype(int) for p in parts),
            tuple(p["prob"].to_numpy(float) for p in parts),
            weighted,
        )

    def unweighted(self) -> CrossFit:
        """The same rates with every cell counted once: for a lot whose cells carry no edge weights."""
        return CrossFit(self.donors, self.labels, self.prob)

    def rates(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """(K, 2): each model's (weighted) mean probability of its unseen donor's positives and negatives,
        of that donor's cells as they are or (``rng``) resampled; NaN for a class the cells lack."""
        out = np.full((len(self.donors), 2), np.nan)
        weights = self.weights or tuple(np.ones(len(labels)) for labels in self.labels)
        for k, (labels, prob, weight) in enumerate(zip(self.labels, self.prob, weights)):
            if rng is not None:
                rows = rng.integers(0, len(labels), len(labels))
                labels, prob, weight = labels[rows], prob[rows], weight[rows]
            for j, cls in enumerate((1, 0)):
                if (labels == cls).any():
                    out[k, j] = np.average(prob[labels == cls], weights=weight[labels == cls])
        return out

    def _raw(
        self, rates: np.ndarray, lot_prob: np.ndarray, lot_weight: np.ndarray, models: np.ndarray
    ) -> float:
        """Unclipped PACC over ``models`` as a ratio of means: the mean over models of (lot mean - negative
        rate) over the mean of their gaps (positive - negative rate). Each model is still corrected by its
        own rates on its own unseen donor; pooling before dividing keeps one donor's noisy gap (about 50
        cells of a class) from entering a denominator alone, which biases a mean of ratios by about
        Var(gap) / gap^2 times (2 * fraction - 1): a slope against the true fraction, and an offset where
        the gaps differ. A model whose donor lacks a class gives none; NaN where the pooled gap does not
        separate the classes."""
        pos, neg = rates[models, 0], rates[models, 1]
        means = lot_weight @ lot_prob[:, models] / lot_weight.sum()
        ok = np.isfinite(pos) & np.isfinite(neg)
        gap = float(np.mean(pos[ok] - neg[ok])) if ok.any() else float("nan")
        if not gap > 0:
            return float("nan")
        return float(np.mean(means[ok] - neg[ok]) / gap)

    def estimate(self, lot_prob: np.ndarray, lot_weight: np.ndarray | None = None) -> float:
        """The lot's fraction (``lot_prob``: cells x models, the models in ``donors``' order;
        ``lot_weight``: the cells' edge weights, or None for all 1)."""
        lot_prob, lot_weight = self._check(lot_prob, lot_weight)
        if lot_prob.shape[0] == 0:
            return float("nan")
        every = np.arange(len(self.donors))
        return float(np.clip(self._raw(self.rates(), lot_prob, lot_weight, every), 0.0, 1.0))

    def bootstrap(
        self,
        lot_prob: np.ndarray,
        n_boot: int = 1000,
        seed: int = 0,
        parts: tuple[str, ...] = INTERVAL_PARTS,
        lot_weight: np.ndarray | None = None,
    ) -> np.ndarray:
        """Unclipped estimates over resamples of ``parts``: the lot's cells (``lot``), each reference
        donor's cells (``reference``), the reference donors with their models (``donors``). Kept unclipped
        so an interval near 0 or 1 is the percentile of the spread, clipped after, not of a pile at the
        bound.

        The interval resamples the lot and the donors, not the donors' cells as well: each model's
        estimate already varies with its donor's cells, so the spread between donors holds that noise,
        and resampling both stages of a two-stage sample counts it twice (Davison & Hinkley 1997, 3.8).
        The donors' deviations from their mean are scaled by sqrt(K / (K - 1)), the small-sample
        correction without which K resampled donors understate the spread of their mean (five donors:
        by a tenth)."""
        lot_prob, lot_weight = self._check(lot_prob, lot_weight)
        if lot_prob.shape[0] == 0:
            return np.empty(0)
        rng = np.random.default_rng(seed)
        n, k = lot_prob.shape[0], len(self.donors)
        every = np.arange(k)
        inflate = float(np.sqrt(k / (k - 1))) if k > 1 else 1.0
        fixed = self.rates()
        values = []
        for _ in range(n_boot):
            cells = rng.integers(0, n, n) if "lot" in parts else np.arange(n)
            rates = self.rates(rng) if "reference" in parts else fixed
            value = self._raw(rates, lot_prob[cells], lot_weight[cells], every)
            if "donors" in parts:
                drawn = self._raw(rates, lot_prob[cells], lot_weight[cells], rng.integers(0, k, k))
                value += inflate * (drawn - value)
            values.append(value)
        values = np.asarray(values, float)
        return values[np.isfinite(values)]

    def interval(
        self,
        lot_prob: np.ndarray,
        n_boot: int = 1000,
        seed: int = 0,
        level: float = 0.95,
        lot_weight: np.ndarray | None = None,
    ) -> tuple[float, float]:
        values = self.bootstrap(lot_prob, n_boot, seed, lot_weight=lot_weight)
        low, high = percentile_interval(values, level)
        return float(np.clip(low, 0, 1)), float(np.clip(high, 0, 1))

    def variance_parts(
        self, lot_prob: np.ndarray, n_boot: int = 1000, seed: int = 0, lot_weight: np.ndarray | None = None
    ) -> dict[str, float]:
        """The interval's variance by source: the lot's cells (``lot``: more cells per lot narrow it), and
        the spread between reference donors split into what their labelled cells' number explains
        (``reference``, the donors' cells alone resampled: more labelled cells per donor narrow it) and
        the rest (``donors``: the donors and their models differing, which only more donors narrow).
        They add up to the variance of the interval's own resamples."""

        def variance(offset: int, part: str) -> float:
            values = self.bootstrap(lot_prob, n_boot, seed + offset, (part,), lot_weight)
            return float(np.var(values)) if values.size else float("nan")  # no resample separated the classes

        lot, reference, between = variance(0, "lot"), variance(1, "reference"), variance(2, "donors")
        # Within-donor noise is part of the spread between donors; where chance puts it above that
        # spread, the spread is all it explains.
        return {"lot": lot, "reference": min(reference, between), "donors": max(between - reference, 0.0)}

    def _check(self, lot_prob: np.ndarray, lot_weight: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        lot_prob = np.asarray(lot_prob, float)
        if lot_prob.ndim != 2 or lot_prob.shape[1] != len(self.donors):
            raise ValueError(
                f"pacc_cross needs one probability per cell from each of the {len(self.donors)} "
                f"leave-one-donor-out models ({', '.join(self.donors)}); got shape {lot_prob.shape}"
            )
        if lot_weight is None:
            return lot_prob, np.ones(lot_prob.shape[0])
        lot_weight = np.asarray(lot_weight, float)
        if lot_weight.shape != (lot_prob.shape[0],) or not np.all(np.isfinite(lot_weight) & (lot_weight > 0)):
            raise ValueError(
                f"pacc_cross needs one positive, finite edge weight per cell: {lot_prob.shape[0]} cells, "
                f"weights of shape {lot_weight.shape}"
            )
        return lot_prob, lot_weight


def cross_cells_needed(parts: dict[str, float], cells: int, half_width: float, level: float = 0.95) -> int:
    """Cells a lot needs for a ``pacc_cross`` interval of +/- ``half_width``, from its variance parts at
    ``cells`` cells: the lot-sampling part shrinks as 1 / cells, the reference and donor parts do not
    (more labelled reference cells or donors narrow those). -1 where they alone exceed the target, or
    where a part is NaN (no resample's models separated the classes, so there is no interval to narrow):
    no number of cells per lot reaches it."""
    from scipy.stats import norm

    target = (half_width / float(norm.ppf(0.5 + level / 2))) ** 2
    floor = parts["reference"] + parts["donors"]
    if not np.all(np.isfinite(list(parts.values()))) or floor >= target or cells <= 0:
        return -1
    return int(np.ceil(cells * parts["lot"] / (target - floor)))
