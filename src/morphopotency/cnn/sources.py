"""Where each backbone's starting weights come from; free of torch and timm so the Snakefile can ask
cheaply while it builds the DAG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def pretrained_source(cnn: Mapping[str, Any], backbone: str) -> str:
    """``imagenet``, ``none`` or a file path for this backbone (``cnn.pretrained`` may be per backbone)."""
    value = cnn["pretrained"]
    if isinstance(value, Mapping):
        if backbone not in value:
            raise ValueError(
                f"cnn.pretrained has no entry for backbone {backbone!r} (entries: {', '.join(value)})"
            )
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
