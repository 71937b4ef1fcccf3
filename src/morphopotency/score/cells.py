"""A new donor's cells through the bundle's models: CNN probability and shape mode, nothing trained."""

from __future__ import annotations

import numpy as np
import pandas as pd

from morphopotency.features import CELL_COLUMNS
from morphopotency.score.bundle import Bundle
from morphopotency.scorers import PROB_COLUMN, lot_columns

LODO_PROB = PROB_COLUMN["cnn"]  # prob_lodo_<donor>: the probability from the CNN that left <donor> out


def score_cells(
    obs: pd.DataFrame, contours: np.ndarray, crops: np.ndarray, bundle: Bundle, device: str = "cpu"
) -> pd.DataFrame:
    """One row per cell (as ``obs``, the imaging branch's per-cell table): its shape and image-quality
    features, P(multipotent) from the bundle's CNN (the same test-time augmentation as the training run),
    its CNN embedding projected on the bundle's reference PCA (emb_0, emb_1, ...), the shape mode the
    bundle's shape model assigns, and each leave-one-donor-out model's probability where the bundle
    holds them: the CNN's (prob_lodo_<donor>), the shape and the combined scorers' (shape_lodo_<donor>,
    combined_lodo_<donor>)."""
    from morphopotency.cnn.model import load_model
    from morphopotency.cnn.tensors import resolve_device, to_device
    from morphopotency.cnn.train import predict_and_embed, predict_proba
    from morphopotency.imaging.shapes import ShapeModel
    from morphopotency.score.embedding import EmbeddingReference

    if len(obs) != len(crops) or len(obs) != len(contours):
        raise ValueError(f"{len(obs)} cells but {len(crops)} crops and {len(contours)} outlines")
    features = [f for f in CELL_COLUMNS if f in obs]
    table = obs[["donor", "image", "cell_id", *features]].reset_index(drop=True)
    reference = EmbeddingReference.load(bundle.path("reference/embedding.npz"))
    names = [f"emb_{i}" for i in range(len(reference.components))]
    if table.empty:
        lodo = [f"{LODO_PROB}{d}" for d in bundle.lodo_models()]
        lodo += [f"{PROB_COLUMN[s]}{d}" for s, models in bundle.scorer_models().items() for d in models]
        empty = {name: pd.Series(dtype=float) for name in ("prob", *names, *lodo)}
        return table.assign(**empty, shape_mode=pd.Series(dtype=int))
    model, spec, _ = load_model(bundle.path("cnn/model.safetensors"))
    on = resolve_device(device)
    model = model.to(on)
    crops = to_device(crops, on)
    every = np.arange(len(crops))
    prob, features = predict_and_embed(model, crops, every, spec)
    coords = reference.project(features)
    shapes = ShapeModel.load(bundle.path("shape_modes/model.npz"), bundle.path("shape_modes/model.json"))
    table = table.assign(prob=prob, **dict(zip(names, coords.T)), shape_mode=shapes.assign(contours))
    # Each leave-one-donor-out model's probability too (with the same test-time augmentation): pacc_cross
    # estimates the lot with every one of them, each by its rates on the donor it never saw.
    for donor, path in bundle.lodo_models().items():
        lodo, lodo_spec, _ = load_model(path)
        table[f"{LODO_PROB}{donor}"] = predict_proba(lodo.to(on), crops, every, lodo_spec)
    # The shape and combined scorers' models of each left-out donor (the combined ones read the CNN's).
    table = table.assign(**lot_columns(bundle.scorer_models(), table))
    cut = bundle.settings["imaging"].get("ssea3_cut_8bit")
    if "ssea3_8bit" in obs and cut is not None:  # imaged: validates the score, against the reference's cut
        values = obs["ssea3_8bit"].to_numpy(float)
        table["ssea3_positive"] = np.where(np.isnan(values), np.nan, values > cut)
    return table
