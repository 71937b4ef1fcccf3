"""Which per-cell scorer a lot's cross-fitted fraction is computed from: the CNN, a logistic model on shape
features, or a logistic model on both (the CNN's logit and the shape features).

Each scorer comes as one model per left-out reference donor, as the CNN's leave-one-donor-out models do,
so every one is cross-fitted the same way: model k never saw donor k, and its error rates are its
predictions of donor k's cells (CrossFit). A lot's interval narrows as the models separate the classes
on donors they never saw (the lot part divides by the gap between the classes' mean probabilities), so
the scorer that separates better out of donor is the one to deploy; which one that is depends on the cells
(on some real crops shape features alone rank as well as a CNN), so the reference decides, by
``expected_half_width``, not habit.

- ``shape``: a class-balanced logistic regression on SHAPE_FEATURES, fitted on every cell of the other
  reference donors.
- ``combined``: the same on the CNN's logit beside the shape features, fitted on LODO model k's own
  predictions of the other donors' held-out images (its ``val`` cells), so its weights fit the very
  probabilities it is applied to; a CNN's training cells would give it overconfident ones.

Fitted with scikit-learn, stored as plain numbers (JSON: medians, standardisation, coefficients) from the
fitted estimators' public attributes, and applied with the same arithmetic: no pickles in a bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from morphopotency.features import SHAPE_FEATURES

SCORERS = ("cnn", "shape", "combined")
CNN_LOGIT = "cnn_logit"  # the combined scorer's first input: logit of the CNN model's probability
PROB_COLUMN = {"cnn": "prob_lodo_", "shape": "shape_lodo_", "combined": "combined_lodo_"}
# The lot the choice is made for: the demo's lots' size, at the fraction where a lot's sampling spread is
# widest for a given gap (a lab's lots above and below it narrow alike, so the ranking holds there too).
CHOICE_CELLS, CHOICE_FRACTION = 400, 0.5
_EPS = 1e-4  # probabilities kept inside (0, 1) before their logit


@dataclass(frozen=True)
class Logistic:
    """A fitted median-impute / standardise / logistic-regression pipeline as plain numbers."""

    features: tuple[str, ...]
    medians: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(positive) of rows ``x`` (columns in ``features`` order; NaN: the training median)."""
        x = np.asarray(x, float)
        x = np.where(np.isnan(x), self.medians, x)
        return expit(((x - self.mean) / self.scale) @ self.coef + self.intercept)

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "medians": self.medians.tolist(),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, record: Mapping) -> Logistic:
        arrays = {k: np.asarray(record[k], float) for k in ("medians", "mean", "scale", "coef")}
        return cls(tuple(record["features"]), intercept=float(record["intercept"]), **arrays)


def fit_logistic(x: pd.DataFrame, labels: np.ndarray) -> Logistic:
    """The shape-feature baseline's recipe (cnn.metrics.baseline_predictions): median imputation,
    standardisation, class-balanced logistic regression."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=1000),
    )
    pipeline.fit(x.to_numpy(float), np.asarray(labels, int))
    imputer, scaler, model = pipeline.named_steps.values()
    return Logistic(
        tuple(x.columns),
        np.asarray(imputer.statistics_, float),
        np.asarray(scaler.mean_, float),
        np.asarray(scaler.scale_, float),
        np.asarray(model.coef_[0], float),
        float(model.intercept_[0]),
    )


def _cnn_logit(prob: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(prob, float), _EPS, 1 - _EPS))


def inputs(cells: pd.DataFrame, scorer: str, cnn_prob: np.ndarray | None = None) -> pd.DataFrame:
    """The columns a shape or combined model reads, from a cell table (and the CNN model's probabilities
    of those cells, for ``combined``)."""
    shape = cells[list(SHAPE_FEATURES)].astype(float).reset_index(drop=True)
    if scorer == "shape":
        return shape
    return pd.concat([pd.DataFrame({CNN_LOGIT: _cnn_logit(cnn_prob)}), shape], axis=1)


def fit_lodo_scorers(cells: pd.DataFrame, lodo: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """(models, predictions): the shape and combined models of every left-out donor, as a JSON-able
    mapping scorer -> donor -> Logistic record, and their predictions of the donor each left out in the
    LODO predictions' layout (scorer, held_out, cell, role 'test', label, prob). ``cells``: the CNN's cell
    table (row = cell index); ``lodo``: the CNN's LODO predictions (held_out, cell, role, label, prob)."""
    models: dict[str, dict[str, dict]] = {"shape": {}, "combined": {}}
    frames = []
    donors = cells["donor"].astype(str).to_numpy()
    labels = cells["label"].to_numpy(int)
    for held_out, part in lodo.groupby(lodo["held_out"].astype(str), sort=True):
        test = part[part["role"] == "test"]
        val = part[part["role"] == "val"]
        rows = test["cell"].to_numpy(int)
        others = np.flatnonzero(donors != held_out)
        shape = fit_logistic(inputs(cells.iloc[others], "shape"), labels[others])
        val_rows = val["cell"].to_numpy(int)
        combined = fit_logistic(
            inputs(cells.iloc[val_rows], "combined", val["prob"].to_numpy()), labels[val_rows]
        )
        for scorer, model in (("shape", shape), ("combined", combined)):
            models[scorer][held_out] = model.to_dict()
            x = inputs(cells.iloc[rows], scorer, test["prob"].to_numpy())
            frames.append(
                pd.DataFrame(
                    {
                        "scorer": scorer,
                        "held_out": held_out,
                        "cell": rows,
                        "role": "test",
                        "label": labels[rows],
                        "prob": model.predict(x.to_numpy(float)),
                    }
                )
            )
    columns = ["scorer", "held_out", "cell", "role", "label", "prob"]
    return models, (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns))


def lot_columns(models: Mapping[str, Mapping[str, Mapping]], cells: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every shape and combined model's probability of a lot's cells, as columns shape_lodo_<donor> and
    combined_lodo_<donor>; the combined ones read the CNN LODO model's column prob_lodo_<donor>."""
    out = {}
    for scorer in ("shape", "combined"):
        for donor, record in models.get(scorer, {}).items():
            cnn = cells[f"{PROB_COLUMN['cnn']}{donor}"].to_numpy(float) if scorer == "combined" else None
            x = inputs(cells, scorer, cnn).to_numpy(float)
            out[f"{PROB_COLUMN[scorer]}{donor}"] = Logistic.from_dict(record).predict(x)
    return out


def _class_means(labels: Sequence[np.ndarray], prob: Sequence[np.ndarray], cls: int) -> np.ndarray:
    """Each model's mean probability of its left-out donor's cells of class ``cls`` (NaN: none)."""
    out = []
    for y, p in zip(labels, prob):
        inside = np.asarray(y) == cls
        out.append(float(np.asarray(p, float)[inside].mean()) if inside.any() else np.nan)
    return np.asarray(out)


def expected_half_width(
    labels: Sequence[np.ndarray],
    prob: Sequence[np.ndarray],
    cells: int = CHOICE_CELLS,
    fraction: float = CHOICE_FRACTION,
) -> float:
    """The 95 % half-width a cross-fitted estimate of a lot of ``cells`` at ``fraction`` would have, from
    the models' predictions of the donors they left out (``labels``/``prob``: one array per model), by the
    delta method for the ratio of means (prevalence.CrossFit._raw), of the interval's two parts these
    predictions measure without confounding: the lot's cells, f var(P | positive) + (1 - f) var(P |
    negative) + f (1 - f) gap^2 over n gap^2, and the rates' own sampling, the mean over models of
    f^2 var(P | positive) / n_positive + (1 - f)^2 var(P | negative) / n_negative of its donor, over K
    gap^2. The spread of the rates between models is left out: it mixes how differently the models are
    calibrated, which a lot scored by the same models shares and the estimate cancels, with the donors'
    own differences (a small share of the deployed intervals' variance in the study). Infinite where the
    pooled gap does not separate the classes."""
    pos, neg = _class_means(labels, prob, 1), _class_means(labels, prob, 0)
    ok = np.isfinite(pos) & np.isfinite(neg)
    if not ok.any():
        return float("inf")
    gap = float(np.mean(pos[ok] - neg[ok]))
    if not gap > 0:
        return float("inf")
    y = np.concatenate([np.asarray(v) for v in labels]).astype(int)
    p = np.concatenate([np.asarray(v, float) for v in prob])
    f = fraction
    lot = (f * p[y == 1].var() + (1 - f) * p[y == 0].var() + f * (1 - f) * gap**2) / cells
    sampling = []
    for keep, t, q in zip(ok, labels, prob):
        if keep:
            t, q = np.asarray(t).astype(int), np.asarray(q, float)
            sampling.append(
                f**2 * q[t == 1].var() / (t == 1).sum() + (1 - f) ** 2 * q[t == 0].var() / (t == 0).sum()
            )
    reference = float(np.mean(sampling)) / len(sampling)
    return float(1.959964 * np.sqrt((lot + reference) / gap**2))


def comparison(predictions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per scorer (``predictions``: scorer -> its models' predictions of their left-out donors, held_out,
    label, prob): the pooled out-of-donor ROC-AUC, the pooled gap between the classes' mean probabilities,
    the worst donor's gap, the expected half-width the choice ranks by, and whether ``choose_scorer``'s
    auto picks it (``chosen``: the bundle records the choice beside its evidence)."""
    from sklearn.metrics import roc_auc_score

    rows = []
    for scorer, table in predictions.items():
        parts = [part for _, part in table.groupby(table["held_out"].astype(str), sort=True)]
        labels = [part["label"].to_numpy(int) for part in parts]
        prob = [part["prob"].to_numpy(float) for part in parts]
        y, p = np.concatenate(labels), np.concatenate(prob)
        gaps = [q[t == 1].mean() - q[t == 0].mean() for t, q in zip(labels, prob) if 0 < t.mean() < 1]
        rows.append(
            {
                "scorer": scorer,
                "donors": len(parts),
                "cells": len(y),
                "roc_auc": float(roc_auc_score(y, p)) if 0 < y.mean() < 1 else float("nan"),
                "gap": float(np.mean(gaps)) if gaps else float("nan"),
                "min_donor_gap": float(np.min(gaps)) if gaps else float("nan"),
                "expected_half_width": expected_half_width(labels, prob),
            }
        )
    table = pd.DataFrame(rows)
    return table.assign(chosen=table["scorer"] == choose_scorer("auto", table)[0]) if len(table) else table


def choose_scorer(setting: str, table: pd.DataFrame) -> tuple[str, str]:
    """(scorer, why): the named one, or with ``auto`` the one with the narrowest expected half-width on
    the reference's own out-of-donor predictions (``table``: ``comparison``), the CNN on a tie."""
    if setting != "auto":
        if setting not in set(table["scorer"]):
            raise ValueError(
                f"score.model {setting!r}: the bundle holds the scorers {', '.join(table['scorer'])}"
            )
        return setting, "named in the config (score.model)"
    order = {s: i for i, s in enumerate(SCORERS)}
    ranked = table.assign(_order=table["scorer"].map(order)).sort_values(["expected_half_width", "_order"])
    best = ranked.iloc[0]
    others = ", ".join(f"{r.scorer} {r.expected_half_width:.3f}" for r in ranked.iloc[1:].itertuples())
    return str(best["scorer"]), (
        f"auto: the narrowest expected 95 % half-width for a lot of {CHOICE_CELLS} cells at "
        f"{CHOICE_FRACTION:g}, from the reference's own out-of-donor predictions ({best['scorer']} "
        f"{best['expected_half_width']:.3f}; {others}; out-of-donor ROC-AUC {best['roc_auc']:.3f})"
    )
