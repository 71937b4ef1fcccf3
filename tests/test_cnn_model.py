"""The classifier's architecture, its weights (local file, mirror URL on 127.0.0.1, unreachable hub) and
saving/reloading without pickles."""

import os
import subprocess
import sys

import pytest
import timm
import torch
from safetensors.torch import save_file
from torch import nn

from morphopotency.cnn.model import (
    ModelSpec,
    PaperHead,
    WeightsUnavailable,
    build_model,
    default_image_size,
    fetch_imagenet_weights,
    load_model,
    save_model,
)

SMALL = "resnet10t"  # a few million parameters: seconds on the CPU


def test_paper_head_layers_in_the_papers_order():
    head = PaperHead(1024)
    kinds = [type(head.features_dropout), type(head.pool)] + [type(m) for m in head.classifier]
    assert kinds == [
        nn.Dropout,
        nn.AdaptiveMaxPool2d,
        nn.Flatten,
        nn.Dropout,
        nn.Linear,
        nn.ReLU,
        nn.BatchNorm1d,
        nn.Dropout,
        nn.Linear,
    ]
    assert all(m.p == 0.4 for m in head.modules() if isinstance(m, nn.Dropout))
    assert head.classifier[2].out_features == 64 and head.classifier[-1].out_features == 2
    # Global *max* pooling: one hot spot in a feature map decides the pooled value.
    head.eval()
    maps = torch.zeros(2, 1024, 5, 5)
    maps[0, :, 2, 3] = 1.0
    pooled = head.pool(maps).flatten(1)
    assert torch.equal(pooled[0], torch.ones(1024)) and torch.equal(pooled[1], torch.zeros(1024))


@pytest.mark.parametrize(
    "backbone, side, features",
    [
        ("densenet121", 224, 1024),
        ("vgg19", 224, 512),
        ("inception_v3", 299, 2048),
        ("legacy_xception", 299, 2048),
    ],
)
def test_paper_backbones_build_without_imagenet_classifier(backbone, side, features):
    assert default_image_size(backbone) == side
    model = build_model(ModelSpec(backbone, image_size=96)).eval()
    assert model.head.classifier[2].in_features == features == model.backbone.num_features
    assert not any(isinstance(m, nn.Linear) and m.out_features == 1000 for m in model.modules())
    with torch.no_grad():
        assert model(torch.rand(2, 3, 96, 96)).shape == (2, 2)


def test_freeze_backbone_trains_only_the_head():
    model = build_model(ModelSpec(SMALL, 32, freeze_backbone=True))
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="'densenet12' is not a timm model"):
        build_model(ModelSpec("densenet12", 32))


def _imagenet_like(tmp_path, name="weights.safetensors"):
    """A timm model with its 1000-class classifier, as ImageNet weights come, saved by the test."""
    torch.manual_seed(1)
    reference = timm.create_model(SMALL, pretrained=False)
    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    return reference.state_dict(), path


def test_local_safetensors_weights_load_into_the_backbone(tmp_path):
    reference, path = _imagenet_like(tmp_path)
    model = build_model(ModelSpec(SMALL, 32), weights=path)
    loaded = model.backbone.state_dict()
    assert set(loaded) == {k for k in reference if not k.startswith("fc.")}
    assert all(torch.equal(loaded[k], reference[k]) for k in loaded)
    # One grey channel: timm folds the RGB filters of the first convolution into one (their sum).
    grey = build_model(ModelSpec(SMALL, 32, in_chans=1), weights=path)
    first = "conv1.0.weight"
    assert torch.allclose(grey.backbone.state_dict()[first], reference[first].sum(dim=1, keepdim=True))


def test_bad_weight_files_are_named(tmp_path):
    with pytest.raises(WeightsUnavailable, match="missing.safetensors: pretrained weights file not found"):
        build_model(ModelSpec(SMALL, 32), weights=tmp_path / "missing.safetensors")
    _, other = _imagenet_like(tmp_path)
    with pytest.raises(WeightsUnavailable, match="not usable as densenet121 weights"):
        build_model(ModelSpec("densenet121", 32), weights=other)


def test_imagenet_weights_fetched_from_a_mirror_url(tmp_path, server, monkeypatch):
    root, base = server
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    torch.manual_seed(2)
    reference = timm.create_model(SMALL, pretrained=False).state_dict()
    torch.save(reference, root / "resnet10t-mirror.pth")
    dest = fetch_imagenet_weights(
        SMALL, tmp_path / "weights" / f"{SMALL}.safetensors", url=f"{base}/resnet10t-mirror.pth"
    )
    model = build_model(ModelSpec(SMALL, 32), weights=dest)
    assert torch.equal(model.backbone.state_dict()["conv1.0.weight"], reference["conv1.0.weight"])
    with pytest.raises(
        WeightsUnavailable, match=r"(?s)could not be fetched from http://127\.0\.0\.1.*cnn\.pretrained"
    ):
        fetch_imagenet_weights(SMALL, tmp_path / "other.safetensors", url=f"{base}/absent.pth")
    assert not (tmp_path / "other.safetensors").exists()


def test_unreachable_hub_says_how_to_provide_weights(tmp_path):
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "TORCH_HOME": str(tmp_path / "torch"),
    }
    code = (
        "from morphopotency.cnn.model import fetch_imagenet_weights as f; f('densenet121', 'w.safetensors')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert (
        "ImageNet weights for densenet121 could not be fetched from the Hugging Face hub (timm/densenet121"
        in result.stderr
    )
    assert "set cnn.pretrained to that file" in result.stderr and "cnn.pretrained: none" in result.stderr
    assert not (tmp_path / "w.safetensors").exists()


def test_saved_model_reloads_to_identical_predictions(tmp_path):
    spec = ModelSpec(SMALL, 32, dropout=0.3)
    torch.manual_seed(3)
    model = build_model(spec)
    model.train()
    model(torch.rand(8, 3, 32, 32))  # move the batch-norm statistics off their initial values
    model.eval()
    x = torch.rand(5, 3, 32, 32)
    save_model(model, spec, tmp_path / "model.safetensors", {"learning_rate": 1e-3})
    again, spec_again, meta = load_model(tmp_path / "model.safetensors")
    assert spec_again == spec and meta["learning_rate"] == 1e-3
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    assert b"pickle" not in (tmp_path / "model.safetensors").read_bytes()[:64]
    (tmp_path / "model.json").unlink()
    with pytest.raises(FileNotFoundError, match="model.json: saved model file not found"):
        load_model(tmp_path / "model.safetensors")
