"""Classification metrics per fold (the paper's Table 1 plus balanced accuracy), their mean ± s.d., and the
simple baselines a CNN has to beat to be worth its cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

METRICS = ("accuracy", "sensitivity", "specificity", "f1", "roc_auc", "balanced_accuracy")


def validation_threshold(y: np.ndarray, prob: np.ndarray) -> float:
    """The cut-off on P(multipotent) that maximises sensitivity + specificity on validation cells
    (Youden's J).

    Why: 0.5 is only the balanced cut-off for a calibrated model; a CNN stopped early is often not, and a
    cut-off chosen on the validation cells (never the test cells) puts it where balanced accuracy is best,
    as the class-balanced logistic-regression baseline is by construction. 0.5 when validation holds one
    class.
    """
    y = np.asarray(y, dtype=int)
    if len(np.unique(y)) < 2:
        return 0.5
    fpr, tpr, cuts = roc_curve(y, prob)
    finite = np.isfinite(cuts)
    best = np.argmax((tpr - fpr)[finite])
    return float(cuts[finite][best])


def decision_threshold(setting: float | str, y_val: np.ndarray, prob_val: np.ndarray) -> float:
    """``cnn.threshold`` as a number: fixed, or ``validation`` (chosen on the validation cells)."""
    return validation_threshold(y_val, prob_val) if setting == "validation" else float(setting)


def classification_metrics(
    y: np.ndarray, prob: np.ndarray, threshold: float | np.ndarray = 0.5
) -> dict[str, float]:
    """Positive = multipotent (label 1); sensitivity is the positive recall, specificity the negative.
    ``threshold`` may be one number or one per cell (cells pooled from folds with their own cut-offs)."""
    y = np.asarray(y, dtype=int)
    pred = (np.asarray(prob) >= np.asarray(threshold)).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    both = len(np.unique(y)) == 2
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "sensitivity": float(tp / (tp + fn)) if tp + fn else float("nan"),
        "specificity": float(tn / (tn + fp)) if tn + fp else float("nan"),
        "f1": float(f1_score(y, pred, zero_division=0.0)),
        "roc_auc": float(roc_auc_score(y, prob)) if both else float("nan"),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)) if both else float("nan"),
    }


def comparison_table(per_fold: pd.DataFrame, group: str = "model") -> pd.DataFrame:
    """Table 1 layout: one row per model, ``metric`` as "mean ± s.d." text plus the numbers beside it."""
    rows = []
    for name, part in per_fold.groupby(group, sort=False):
        row: dict[str, object] = {group: name, "folds": len(part)}
        for metric in METRICS:
            mean, sd = part[metric].mean(), part[metric].std(ddof=1)
            row[metric] = f"{mean:.3f} ± {sd:.3f}"
            row[f"{metric}_mean"] = mean
            row[f"{metric}_sd"] = sd
        rows.append(row)
    return pd.DataFrame(rows)


def baseline_predictions(
    features: pd.DataFrame, labels: np.ndarray, train: np.ndarray, test: np.ndarray
) -> dict[str, np.ndarray]:
    """Held-out P(positive) from the majority class rate and from a logistic regression on shape features.

    The majority baseline predicts the training prevalence for everyone (ROC-AUC 0.5 by construction); the
    logistic regression is class-balanced and standardised, fitted on the same training cells as the CNN.
    """
    labels = np.asarray(labels, dtype=int)
    prevalence = labels[train].mean()
    majority = np.full(len(test), 1.0 if prevalence >= 0.5 else 0.0)
    out = {"majority_class": majority}
    if features.shape[1]:
        x = features.to_numpy(dtype=float)
        # A crop whose Otsu mask finds no object has NaN measures: the training cells' median stands in.
        model = make_pipeline(
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(class_weight="balanced", max_iter=1000),
        )
        model.fit(x[train], labels[train])
        out["logistic_shape_features"] = model.predict_proba(x[test])[:, 1]
    return out


def confusion_table(y: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> pd.DataFrame:
    """Rows = truth, columns = prediction, negative class first (the paper's Fig. 4D)."""
    names = ["non-multipotent", "multipotent"]
    matrix = confusion_matrix(
        np.asarray(y, dtype=int), (np.asarray(prob) >= threshold).astype(int), labels=[0, 1]
    )
    return pd.DataFrame(matrix, index=pd.Index(names, name="truth"), columns=names)


def outcome_labels(y: np.ndarray, prob: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """'true positive' / 'false positive' / 'false negative' / 'true negative' per cell."""
    pred = np.asarray(prob) >= threshold
    truth = np.asarray(y).astype(bool)
    return np.where(
        pred,
        np.where(truth, "true positive", "false positive"),
        np.where(truth, "false negative", "true negative"),
    )


def _cut(part: pd.DataFrame, threshold: float) -> np.ndarray | float:
    """The rows' own ``threshold`` column when the predictions carry one, else the given number."""
    return part["threshold"].fillna(threshold).to_numpy() if "threshold" in part else threshold


def read_predictions(files: list[str]) -> pd.DataFrame:
    """The folds' held-out prediction tables as one frame (donor and image ids kept as text)."""
    return pd.concat(
        [pd.read_csv(f, sep="\t", dtype={"donor": str, "image": str}) for f in files], ignore_index=True
    )


def fold_metrics(predictions: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """One row per model and fold from held-out predictions (columns model, fold, label, prob, and
    optionally threshold)."""
    return pd.DataFrame(
        [
            {
                "model": model,
                "fold": fold,
                "cells": len(part),
                **classification_metrics(part["label"], part["prob"], _cut(part, threshold)),
            }
            for (model, fold), part in predictions.groupby(["model", "fold"], sort=False)
        ]
    )


def pooled_metrics(predictions: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """ROC-AUC and balanced accuracy over all folds' held-out cells together, one row per model."""
    rows = [
        {"model": m, **classification_metrics(g["label"], g["prob"], _cut(g, threshold))}
        for m, g in predictions.groupby("model", sort=False)
    ]
    return pd.DataFrame(rows)[["model", "roc_auc", "balanced_accuracy"]].rename(
        columns={"roc_auc": "pooled_roc_auc", "balanced_accuracy": "pooled_balanced_accuracy"}
    )


def _boot_scores(prob: np.ndarray, n_neg: int, threshold: float | np.ndarray) -> dict[str, np.ndarray]:
    """ROC-AUC and balanced accuracy of each row of ``prob`` (negatives in the first ``n_neg`` columns).

    By hand because sklearn scores one resample per call, ~1000x slower over thousands of resamples: the
    AUC is the Mann-Whitney statistic from scipy's ranks (ties averaged, as sklearn counts them).
    """
    n_pos = prob.shape[1] - n_neg
    ranks = rankdata(prob, axis=1)
    auc = (ranks[:, n_neg:].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    cut = np.broadcast_to(np.asarray(threshold, dtype=float), prob.shape)
    bacc = 0.5 * (
        (prob[:, n_neg:] >= cut[:, n_neg:]).mean(axis=1) + (prob[:, :n_neg] < cut[:, :n_neg]).mean(axis=1)
    )
    return {"roc_auc": auc, "balanced_accuracy": bacc}


def paired_differences(
    predictions: pd.DataFrame,
    models: list[str],
    baselines: list[str],
    threshold: float = 0.5,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Model minus baseline in pooled ROC-AUC and balanced accuracy, with a paired bootstrap 95 % interval.

    Why: fold means of ~100 cells each differ by noise of a few points, so "at least as good" needs the
    difference on the same held-out cells and its uncertainty. Cells are resampled within each class (both
    classes always present) and the same resample scores both models, which is what makes it paired.
    """
    wide = predictions.pivot_table(index=["fold", "cell"], columns="model", values="prob", aggfunc="first")
    cuts = (
        predictions.assign(threshold=_cut(predictions, threshold))
        .pivot_table(index=["fold", "cell"], columns="model", values="threshold", aggfunc="first")
        .reindex(index=wide.index, columns=wide.columns)
    )
    label = (
        predictions.drop_duplicates(["fold", "cell"])
        .set_index(["fold", "cell"])["label"]
        .reindex(wide.index)
        .to_numpy(dtype=int)
    )
    missing = [m for m in [*models, *baselines] if m not in wide.columns or wide[m].isna().any()]
    if missing:
        raise ValueError(
            f"paired comparison needs every model scored on the same cells; incomplete: {', '.join(missing)}"
        )
    rng = np.random.default_rng(seed)
    neg, pos = (np.flatnonzero(label == k) for k in (0, 1))
    # Negatives first, positives after, in every draw: the class of a column is known without looking.
    draws = np.hstack([rng.choice(neg, (n_boot, len(neg))), rng.choice(pos, (n_boot, len(pos)))])
    names = list(dict.fromkeys([*models, *baselines]))
    point = {m: classification_metrics(label, wide[m].to_numpy(), cuts[m].to_numpy()) for m in names}
    boot = {m: _boot_scores(wide[m].to_numpy()[draws], len(neg), cuts[m].to_numpy()[draws]) for m in names}
    rows = []
    for model in models:
        for base in baselines:
            for metric in ("roc_auc", "balanced_accuracy"):
                diff = boot[model][metric] - boot[base][metric]
                low, high = np.quantile(diff, [0.025, 0.975])
                rows.append(
                    {
                        "model": model,
                        "baseline": base,
                        "metric": metric,
                        "model_value": point[model][metric],
                        "baseline_value": point[base][metric],
                        "difference": point[model][metric] - point[base][metric],
                        "ci_low": float(low),
                        "ci_high": float(high),
                        "share_worse": float(np.mean(diff < 0)),
                        "cells": len(label),
                    }
                )
    return pd.DataFrame(rows)


def baseline_cv_predictions(features: pd.DataFrame, labels: np.ndarray, splits: pd.DataFrame) -> pd.DataFrame:
    """The baselines' held-out predictions on exactly the CNN's folds (fitted on train + validation cells),
    in the CNN predictions' layout (model, fold, cell, label, prob)."""
    labels = np.asarray(labels, dtype=int)
    frames = []
    for fold, part in splits.groupby("fold"):
        fit = part.loc[part["role"] != "test", "cell"].to_numpy()
        test = part.loc[part["role"] == "test", "cell"].to_numpy()
        for name, prob in baseline_predictions(features, labels, fit, test).items():
            frames.append(
                pd.DataFrame({"model": name, "fold": fold, "cell": test, "label": labels[test], "prob": prob})
            )
    return pd.concat(frames, ignore_index=True)


def select_backbone(comparison: pd.DataFrame, select_by: str, final_backbone: str = "auto") -> str:
    """The named backbone, or with ``auto`` the one with the best fold mean of ``select_by``
    (first on ties)."""
    if final_backbone != "auto":
        if final_backbone not in set(comparison["model"]):
            raise ValueError(
                f"cnn.final_backbone {final_backbone!r} is not among the compared backbones "
                f"({', '.join(comparison['model'])})"
            )
        return final_backbone
    return str(comparison.sort_values(f"{select_by}_mean", ascending=False, kind="stable").iloc[0]["model"])
