"""A new donor's cells through the bundle's models: CNN probability and shape mode, nothing trained."""

from __future__ import annotations

import numpy as np
import pandas as pd

from morphopotency.cnn.data import SHAPE_FEATURES
from morphopotency.score.bundle import Bundle


def score_cells(
    obs: pd.DataFrame, contours: np.ndarray, crops: np.ndarray, bundle: Bundle, device: str = "cpu"
) -> pd.DataFrame:
    """One row per cell (as ``obs``, the imaging branch's per-cell table): its shape features, P(multipotent)
    from the bundle's CNN (the same test-time augmentation as the training run) and the shape mode the
    bundle's shape model assigns."""
    from morphopotency.cnn.model import load_model
    from morphopotency.cnn.tensors import resolve_device, to_device
    from morphopotency.cnn.train import predict_proba
    from morphopotency.imaging.shapes import ShapeModel

    if len(obs) != len(crops) or len(obs) != len(contours):
        raise ValueError(f"{len(obs)} cells but {len(crops)} crops and {len(contours)} outlines")
    table = obs[["donor", "image", "cell_id", *[f for f in SHAPE_FEATURES if f in obs]]].reset_index(
        drop=True
    )
    if table.empty:
        return table.assign(prob=pd.Series(dtype=float), shape_mode=pd.Series(dtype=int))
    model, spec, _ = load_model(bundle.path("cnn/model.safetensors"))
    on = resolve_device(device)
    model = model.to(on)
    prob = predict_proba(model, to_device(crops, on), np.arange(len(crops)), spec)
    shapes = ShapeModel.load(bundle.path("shape_modes/model.npz"), bundle.path("shape_modes/model.json"))
    return table.assign(prob=prob, shape_mode=shapes.assign(contours))
