"""The validated ``cnn`` config section turned into the library's parameter objects, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from morphopotency.cnn.model import ModelSpec, default_image_size
from morphopotency.cnn.train import TrainParams


def model_spec(cnn: Mapping[str, Any], backbone: str) -> ModelSpec:
    return ModelSpec(
        backbone=backbone,
        image_size=int(cnn["image_size"] or default_image_size(backbone)),
        in_chans=int(cnn["in_chans"]),
        dropout=float(cnn["dropout"]),
        freeze_backbone=bool(cnn["freeze_backbone"]),
    )


def train_params(
    cnn: Mapping[str, Any],
    learning_rate: float | None = None,
    epochs: int | None = None,
    seed_offset: int = 0,
) -> TrainParams:
    return TrainParams(
        learning_rate=float(learning_rate or cnn["learning_rate"]),
        epochs=int(epochs or cnn["epochs"]),
        patience=int(cnn["patience"]),
        batch_size=int(cnn["batch_size"]),
        seed=int(cnn["seed"]) + seed_offset,
        min_val_roc_auc=None if cnn["min_val_roc_auc"] is None else float(cnn["min_val_roc_auc"]),
    )
