"""The classifier: a timm backbone without its ImageNet classifier, plus the paper's head as its own module.

Weights never come from a pickle: a backbone's pretrained weights are a ``.safetensors`` file handed to timm
through ``pretrained_cfg_overlay``, and a trained classifier is saved as ``model.safetensors`` +
``model.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import timm
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from timm.models import get_pretrained_cfg
from torch import nn

from morphopotency.io.atomic import atomic_path


class WeightsUnavailable(RuntimeError):
    """Pretrained weights were asked for but could not be fetched or read."""


class PaperHead(nn.Module):
    """Kim et al.'s top classifier: dropout → global max pool → dropout → 64 → ReLU → BN → dropout → 2."""

    def __init__(self, in_features: int, hidden: int = 64, dropout: float = 0.4, n_classes: int = 2):
        super().__init__()
        self.features_dropout = nn.Dropout(dropout)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.BatchNorm1d(hidden),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(self.features_dropout(features)))


class CellClassifier(nn.Module):
    """Backbone feature maps (timm ``forward_features``) into :class:`PaperHead`; returns logits (N, 2)."""

    def __init__(self, backbone: nn.Module, head: PaperHead):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.forward_features(x))


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a classifier's architecture (saved as model.json beside the weights)."""

    backbone: str
    image_size: int
    in_chans: int = 3
    dropout: float = 0.4
    hidden: int = 64
    freeze_backbone: bool = False
    extra: dict = field(default_factory=dict)


def default_image_size(backbone: str) -> int:
    """The backbone's native input side (224 for most, 299 for Inception v3 and Xception)."""
    check_backbone(backbone)
    return int(get_pretrained_cfg(backbone).input_size[-1])


def check_backbone(name: str) -> None:
    if not timm.is_model(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:8]
        raise ValueError(
            f"cnn.backbones: {name!r} is not a timm model (similar: {', '.join(close) or 'none'})"
        )


def build_model(spec: ModelSpec, weights: str | Path | None = None) -> CellClassifier:
    """The classifier; ``weights`` is a backbone ``.safetensors`` (e.g. ImageNet) or None for random init.

    The file goes through timm's own pretrained loader (``pretrained_cfg_overlay=dict(file=...)``), so the
    ImageNet classifier is dropped and a 1-channel input gets its first convolution adapted as timm does.
    """
    check_backbone(spec.backbone)
    kwargs = dict(num_classes=0, global_pool="", in_chans=spec.in_chans)
    if weights is not None:
        weights = Path(weights)
        if not weights.is_file():
            raise WeightsUnavailable(f"{weights}: pretrained weights file not found")
        try:
            backbone = timm.create_model(
                spec.backbone, pretrained=True, pretrained_cfg_overlay={"file": str(weights)}, **kwargs
            )
        except (RuntimeError, KeyError, ValueError, OSError) as error:
            raise WeightsUnavailable(f"{weights}: not usable as {spec.backbone} weights ({error})") from error
        # timm loads non-strictly once the classifier is removed, so a file for another architecture would
        # load nothing and leave random weights without an error: check that every backbone tensor was there.
        with safe_open(str(weights), framework="pt") as handle:
            present = set(handle.keys())
        missing = [
            k for k in backbone.state_dict() if k not in present and not k.endswith("num_batches_tracked")
        ]
        if missing:
            raise WeightsUnavailable(
                f"{weights}: not usable as {spec.backbone} weights ({len(missing)} backbone tensors "
                f"missing, e.g. {', '.join(missing[:3])})"
            )
    else:
        backbone = timm.create_model(spec.backbone, pretrained=False, **kwargs)
    if spec.freeze_backbone:
        backbone.requires_grad_(False)
    return CellClassifier(backbone, PaperHead(backbone.num_features, spec.hidden, spec.dropout))


def fetch_imagenet_weights(backbone: str, dest: str | Path, url: str | None = None) -> Path:
    """Download timm's ImageNet weights once (from the Hugging Face hub, or ``url`` if given: a mirror) and
    keep them as a local ``.safetensors`` that training jobs, which may have no network, read."""
    check_backbone(backbone)
    overlay = {"url": url, "hf_hub_id": None, "source": ""} if url else {}
    try:
        model = timm.create_model(backbone, pretrained=True, pretrained_cfg_overlay=overlay)
    except Exception as error:  # hub, HTTP and cache errors come as many types; all mean "not reachable"
        where = url or f"the Hugging Face hub ({get_pretrained_cfg(backbone).hf_hub_id})"
        raise WeightsUnavailable(
            f"ImageNet weights for {backbone} could not be fetched from {where}: {type(error).__name__}: "
            f"{error}\n"
            f"Without network, either: (1) on a machine with network run "
            '`python -c "import timm, safetensors.torch as s; '
            f"s.save_file(timm.create_model('{backbone}', pretrained=True)"
            f".state_dict(), '{backbone}.safetensors')\"` and set cnn.pretrained to that file (or copy "
            f"it to {dest}); "
            f"(2) set cnn.weights_url.{backbone} to a reachable mirror; or (3) set cnn.pretrained: none "
            "to train from scratch."
        ) from error
    with atomic_path(dest) as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    return Path(dest)


def save_model(
    model: CellClassifier, spec: ModelSpec, path: str | Path, metadata: dict | None = None
) -> None:
    """``path`` (.safetensors) and its ``.json`` sibling: the spec plus whatever provenance is given."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp))
    with atomic_path(path.with_suffix(".json")) as tmp:
        Path(tmp).write_text(
            json.dumps({"spec": asdict(spec), **(metadata or {})}, indent=2, default=str) + "\n"
        )


def load_model(path: str | Path) -> tuple[CellClassifier, ModelSpec, dict]:
    """Rebuild a saved classifier (eval mode); errors name the file that is missing or does not fit."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    for p in (path, meta_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: saved model file not found")
    meta = json.loads(meta_path.read_text())
    spec = ModelSpec(**meta.pop("spec"))
    model = build_model(spec)
    try:
        model.load_state_dict(load_file(str(path)))
    except RuntimeError as error:
        raise ValueError(
            f"{path}: weights do not fit the architecture in {meta_path.name}: {error}"
        ) from error
    return model.eval(), spec, meta
