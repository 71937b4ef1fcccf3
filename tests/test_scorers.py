"""The scorers beside the CNN: stored as plain numbers that predict exactly as the fitted pipeline, each
model of a left-out donor fitted without that donor's cells, the choice made by a hand-checked expected
half-width, and a bundle's cross-fit built from the chosen scorer's predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from morphopotency.features import SHAPE_FEATURES
from morphopotency.scorers import (
    CNN_LOGIT,
    Logistic,
    choose_scorer,
    comparison,
    expected_half_width,
    fit_lodo_scorers,
    fit_logistic,
    inputs,
    lot_columns,
)


def _cells(seed: int = 0, per_donor: int = 60, donors=("A", "B", "C")) -> pd.DataFrame:
    """Cells whose circularity and area tell the classes apart, with a NaN measure here and there."""
    rng = np.random.default_rng(seed)
    frames = []
    for donor in donors:
        label = rng.integers(0, 2, per_donor)
        features = {f: rng.normal(0, 1, per_donor) for f in SHAPE_FEATURES}
        features["circularity"] = features["circularity"] + 1.5 * label
        features["area"] = 300 + 40 * features["area"] - 60 * label
        frames.append(pd.DataFrame({"donor": donor, "label": label, **features}))
    cells = pd.concat(frames, ignore_index=True)
    cells.loc[[3, len(cells) - 2], "solidity"] = np.nan
    return cells


def _lodo(cells: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """CNN LODO predictions: for each donor left out, its cells (test) and a third of the others (val)."""
    rng = np.random.default_rng(seed)
    rows = []
    for donor in sorted(cells["donor"].unique()):
        test = np.flatnonzero(cells["donor"] == donor)
        others = np.flatnonzero(cells["donor"] != donor)
        val = others[rng.random(len(others)) < 0.34]
        for role, index in (("test", test), ("val", val)):
            prob = np.clip(
                0.3 + 0.4 * cells["label"].to_numpy()[index] + rng.normal(0, 0.15, len(index)), 0, 1
            )
            rows.append(
                pd.DataFrame(
                    {
                        "held_out": donor,
                        "cell": index,
                        "role": role,
                        "label": cells["label"].to_numpy()[index],
                        "prob": prob,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def test_the_stored_numbers_predict_as_the_fitted_pipeline_does():
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cells = _cells()
    x = inputs(cells, "shape")
    model = fit_logistic(x, cells["label"].to_numpy())
    pipeline = make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=1000),
    ).fit(x.to_numpy(), cells["label"].to_numpy())
    expected = pipeline.predict_proba(x.to_numpy())[:, 1]
    again = Logistic.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.allclose(again.predict(x.to_numpy()), expected, atol=1e-12)
    assert again.features == tuple(SHAPE_FEATURES)


def test_each_donors_models_never_saw_its_cells_and_predict_only_them():
    cells = _cells()
    lodo = _lodo(cells)
    models, predictions = fit_lodo_scorers(cells, lodo)
    assert sorted(models) == ["combined", "shape"] and all(
        sorted(m) == ["A", "B", "C"] for m in models.values()
    )
    test = lodo[lodo["role"] == "test"]
    for scorer in ("shape", "combined"):
        part = predictions[predictions["scorer"] == scorer]
        assert part[["held_out", "cell"]].values.tolist() == test[["held_out", "cell"]].values.tolist()
        assert (part["role"] == "test").all() and part["prob"].between(0, 1).all()
    assert models["combined"]["A"]["features"] == [CNN_LOGIT, *SHAPE_FEATURES]
    # Donor A's cells changed beyond recognition change neither of A's models, only the others'.
    changed = cells.copy()
    changed.loc[changed["donor"] == "A", list(SHAPE_FEATURES)] *= -3
    again, _ = fit_lodo_scorers(changed, lodo)
    assert again["shape"]["A"] == models["shape"]["A"] and again["shape"]["B"] != models["shape"]["B"]
    assert again["combined"]["A"] == models["combined"]["A"]


def test_a_lots_columns_are_each_models_probabilities():
    cells = _cells()
    lodo = _lodo(cells)
    models, _ = fit_lodo_scorers(cells, lodo)
    lot = _cells(seed=5, per_donor=20, donors=("L",)).assign(
        prob_lodo_A=0.8, prob_lodo_B=0.2, prob_lodo_C=0.5
    )
    columns = lot_columns(models, lot)
    assert sorted(columns) == sorted(f"{s}_lodo_{d}" for s in ("shape", "combined") for d in "ABC")
    shape_a = Logistic.from_dict(models["shape"]["A"]).predict(inputs(lot, "shape").to_numpy())
    assert np.array_equal(columns["shape_lodo_A"], shape_a)
    combined_b = Logistic.from_dict(models["combined"]["B"])
    assert np.array_equal(
        columns["combined_lodo_B"], combined_b.predict(inputs(lot, "combined", np.full(20, 0.2)).to_numpy())
    )


def test_expected_half_width_by_hand():
    labels = [np.array([1, 1, 0, 0]), np.array([1, 1, 0, 0])]
    same = [np.array([0.9, 0.7, 0.3, 0.1]), np.array([0.9, 0.7, 0.3, 0.1])]
    # gap 0.6, var 0.01 within each class: the lot's cells (0.01 + 0.09) / 400, the rates' sampling
    # (0.25 * 0.01 / 2 + 0.25 * 0.01 / 2) per donor over K = 2; both over gap^2.
    lot, rates = 0.1 / 400, 0.0025 / 2
    assert expected_half_width(labels, same) == pytest.approx(1.959964 * np.sqrt((lot + rates) / 0.36))
    # A model reading everything 0.1 lower is calibrated otherwise, which a lot it scores shares: its
    # rates' spread between models does not widen the interval, only the pooled spread within a class
    # (var(0.9, 0.7, 0.8, 0.6) = 0.0125, as var(0.3, 0.1, 0.2, 0.0)) does.
    lower = [same[0], same[1] - 0.1]
    lot = (0.5 * 0.0125 + 0.5 * 0.0125 + 0.25 * 0.36) / 400
    assert expected_half_width(labels, lower) == pytest.approx(1.959964 * np.sqrt((lot + rates) / 0.36))
    assert expected_half_width(labels, [1 - p for p in same]) == np.inf  # no separation, no interval


def test_auto_takes_the_narrowest_and_the_cnn_on_a_tie_and_a_named_one_is_kept():
    table = pd.DataFrame(
        {
            "scorer": ["cnn", "shape", "combined"],
            "roc_auc": [0.8, 0.85, 0.9],
            "expected_half_width": [0.09, 0.08, 0.08],
        }
    )
    chosen, why = choose_scorer("auto", table)
    assert chosen == "shape" and why.startswith("auto: the narrowest expected 95 % half-width")
    assert choose_scorer("auto", table.assign(expected_half_width=0.1))[0] == "cnn"
    assert choose_scorer("combined", table) == ("combined", "named in the config (score.model)")
    with pytest.raises(ValueError, match="score.model 'combined': the bundle holds the scorers cnn"):
        choose_scorer("combined", table[table["scorer"] == "cnn"])


def test_the_comparison_measures_each_scorer_on_the_donors_its_models_left_out():
    cells = _cells()
    lodo = _lodo(cells)
    _, predictions = fit_lodo_scorers(cells, lodo)
    cnn = lodo[lodo["role"] == "test"].assign(scorer="cnn")
    table = comparison({"cnn": cnn, **dict(iter(predictions.groupby("scorer")))}).set_index("scorer")
    assert (table["donors"] == 3).all() and (table["cells"] == len(cells)).all()
    assert (
        (table["roc_auc"] > 0.7).all()
        and (table["gap"] > 0).all()
        and np.isfinite(table["expected_half_width"]).all()
    )
    part = predictions[predictions["scorer"] == "shape"]
    by_donor = [g for _, g in part.groupby("held_out")]
    expected = expected_half_width(
        [g["label"].to_numpy() for g in by_donor], [g["prob"].to_numpy() for g in by_donor]
    )
    assert table.loc["shape", "expected_half_width"] == pytest.approx(expected)
    assert (
        table["chosen"].sum() == 1
        and table["chosen"].idxmax() == choose_scorer("auto", table.reset_index())[0]
    )


def test_a_bundle_cross_fits_with_the_chosen_scorers_predictions(tmp_path):
    import yaml

    from morphopotency.config import load_schema, with_defaults
    from morphopotency.score.bundle import BundleError, bundle_scorer, export, load, preprocessing_settings
    from tests.conftest import REPO

    cells = _cells()
    lodo = _lodo(cells)
    models, predictions = fit_lodo_scorers(cells, lodo)
    table = comparison({"cnn": lodo[lodo["role"] == "test"], **dict(iter(predictions.groupby("scorer")))})
    config = with_defaults(
        yaml.safe_load((REPO / "config/config.yaml").read_text()),
        load_schema(REPO / "workflow/schemas/config.schema.yaml"),
    )
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"w")

    def bundle(name: str, scorer_models: dict):
        (tmp_path / f"{name}.json").write_text(json.dumps(scorer_models))
        files = {f"lodo/{d}/model.safetensors": weights for d in "ABC"}
        files |= {"scorers/models.json": tmp_path / f"{name}.json"}
        tables = {
            "reference/cells.tsv": cells.assign(cell=range(len(cells))),
            "reference/lodo_predictions.tsv": lodo,
            "reference/scorer_predictions.tsv": predictions,
            "metrics/scorers.tsv": table,
        }
        settings = preprocessing_settings(config, {"spec": {}, "threshold": 0.5})
        export(tmp_path / name, files, settings, tables, {"commit": None})
        return load(tmp_path / name)

    loaded = bundle("model", models)
    fit = loaded.crossfit("shape")
    shape = predictions[predictions["scorer"] == "shape"]
    assert list(fit.donors) == ["A", "B", "C"]
    assert np.allclose(np.concatenate(fit.prob), shape.sort_values("held_out", kind="stable")["prob"])
    assert np.allclose(np.concatenate(loaded.crossfit("cnn").prob), lodo[lodo["role"] == "test"]["prob"])
    assert bundle_scorer(loaded, {"model": "auto"}) == choose_scorer("auto", table)
    assert bundle_scorer(loaded, {"model": "shape"})[0] == "shape"
    partial = bundle(
        "partial", {"shape": {d: models["shape"][d] for d in "AB"}, "combined": models["combined"]}
    )
    with pytest.raises(BundleError, match="shape models of A, B but LODO models of A, B, C"):
        partial.crossfit("shape")
