"""The validated ``cnn`` config section turned into the library's parameter objects, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from morphopotency.cnn.model import ModelSpec, default_image_size
from morphopotency.cnn.train import TrainParams


def pretrained_source(cnn: Mapping[str, Any], backbone: str) -> str:
    """``imagenet``, ``none`` or a file path for this backbone (``cnn.pretrained`` may be per backbone)."""
    value = cnn["pretrained"]
    if isinstance(value, Mapping):
        if backbone not in value:
            raise ValueError(f"cnn.pretrained has no entry for backbone {backbone!r} (entries: {', '.join(value)})")
        value = value[backbone]
    return str(value)


def weights_file(cnn: Mapping[str, Any], backbone: str) -> str | None:
    """The .safetensors a training job reads for ``backbone``, or None to start from random weights."""
    source = pretrained_source(cnn, backbone)
    if source == "none":
        return None
    if source == "imagenet":
        return str(Path(cnn["weights_dir"]) / f"{backbone}.safetensors")
    return source


def model_spec(cnn: Mapping[str, Any], backbone: str) -> ModelSpec:
    return ModelSpec(
        backbone=backbone,
        image_size=int(cnn["image_size"] or default_image_size(backbone)),
        in_chans=int(cnn["in_chans"]),
        dropout=float(cnn["dropout"]),
        freeze_backbone=bool(cnn["freeze_backbone"]),
    )


def train_params(cnn: Mapping[str, Any], learning_rate: float | None = None, epochs: int | None = None, seed_offset: int = 0) -> TrainParams:
    return TrainParams(
        learning_rate=float(learning_rate or cnn["learning_rate"]),
        epochs=int(epochs or cnn["epochs"]),
        patience=int(cnn["patience"]),
        batch_size=int(cnn["batch_size"]),
        seed=int(cnn["seed"]) + seed_offset,
    )
