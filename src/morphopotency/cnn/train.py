"""Training with early stopping on validation loss (best weights restored), checkpointed every epoch so an
interrupted job resumes where it stopped; prediction as P(multipotent)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from morphopotency.cnn.model import CellClassifier, ModelSpec, build_model
from morphopotency.cnn.tensors import augment, prepare
from morphopotency.io.atomic import atomic_path


@dataclass(frozen=True)
class TrainParams:
    learning_rate: float = 1e-4
    epochs: int = 50
    patience: int = 10
    batch_size: int = 32
    seed: int = 0
    augment: bool = True
    # Early stopping keeps the epoch of lowest validation loss among those whose validation ROC-AUC reaches
    # this (None: among all, the paper). Trained from scratch, a model's loss can stay above its untrained
    # first epoch's while its ranking improves (demo: AUC 0.38 -> 0.77 as the loss rose 0.70 -> 1.06): by
    # loss alone it kept the first epoch and read every cell alike.
    min_val_roc_auc: float | None = None


@dataclass
class FitResult:
    model: CellClassifier
    # epoch, train_loss, val_loss, val_roc_auc (throughput is logged, not kept: tables must rerun identically)
    history: pd.DataFrame
    best_epoch: int
    best_val_loss: float


def _autocast(device: torch.device):
    # bf16 on CUDA (no loss scaling needed); full precision on the CPU, where bf16 is slower on most chips.
    return (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda"
        else torch.autocast("cpu", enabled=False)
    )


def _fingerprint(
    spec: ModelSpec, params: TrainParams, weights: str | Path | None, train: np.ndarray, val: np.ndarray
) -> str:
    text = json.dumps([asdict(spec), asdict(params), str(weights), train.tolist(), val.tolist()])
    return hashlib.sha256(text.encode()).hexdigest()


def train_step(
    model: CellClassifier,
    optimizer: torch.optim.Optimizer,
    crops: torch.Tensor,
    labels: torch.Tensor,
    rows: torch.Tensor,
    spec: ModelSpec,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """One optimiser step on the cells ``rows`` of the device-resident data; augments when given a
    generator."""
    x = prepare(crops[rows], spec.image_size, spec.in_chans)
    if generator is not None:
        x = augment(x, generator)
    if crops.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    with _autocast(crops.device):
        loss = F.cross_entropy(model(x).float(), labels[rows])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def _dihedral(x: torch.Tensor) -> list[torch.Tensor]:
    return [torch.rot90(v, k, dims=(-2, -1)) for v in (x, x.flip(-1)) for k in range(4)]


def _mean_over_views(model, crops, index, spec, batch_size, tta, readout) -> np.ndarray:
    model.eval()
    device = crops.device
    out = []
    with torch.inference_mode(), _autocast(device):
        for start in range(0, len(index), batch_size):
            rows = torch.as_tensor(index[start : start + batch_size], device=device)
            x = prepare(crops[rows], spec.image_size, spec.in_chans)
            views = _dihedral(x) if tta else [x]
            values = []
            for view in views:
                if device.type == "cuda":
                    view = view.contiguous(memory_format=torch.channels_last)
                values.append(readout(view).float())
            out.append(torch.stack(values).mean(dim=0).cpu())
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros(0)


def predict_proba(
    model: CellClassifier,
    crops: torch.Tensor,
    index: np.ndarray,
    spec: ModelSpec,
    batch_size: int = 64,
    tta: bool = True,
) -> np.ndarray:
    """P(class 1) per cell, in eval mode; the same weights and device give the same numbers.

    With ``tta`` the probability is the mean over the cell's 8 rotations and flips: a cell's label does not
    depend on its orientation, and training saw all eight, so averaging removes orientation noise.
    """
    return _mean_over_views(
        model, crops, index, spec, batch_size, tta, lambda x: torch.softmax(model(x).float(), dim=1)[:, 1]
    )


def embed(
    model: CellClassifier, crops: torch.Tensor, index: np.ndarray, spec: ModelSpec, batch_size: int = 64
) -> np.ndarray:
    """(cells, features): the pooled backbone features the head classifies, averaged over the 8 views: what
    the model sees of a cell, compared between a new donor and the reference cohort to detect drift."""
    return predict_and_embed(model, crops, index, spec, batch_size)[1]


def predict_and_embed(
    model: CellClassifier, crops: torch.Tensor, index: np.ndarray, spec: ModelSpec, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """``predict_proba`` (with test-time augmentation) and ``embed`` from one pass over the 8 views: the
    backbone runs once per view, and the probability is the head's on those very features (the same
    operations as the model's forward, so the same numbers)."""

    def both(x: torch.Tensor) -> torch.Tensor:
        features = model.backbone.forward_features(x)
        pooled = model.head.pool(features).flatten(1)
        prob = torch.softmax(model.head(features).float(), dim=1)[:, 1:]
        return torch.cat([prob, pooled.float()], dim=1)

    if len(index) == 0:
        return np.zeros(0), np.zeros((0, 0))
    out = _mean_over_views(model, crops, index, spec, batch_size, True, both)
    return out[:, 0], out[:, 1:]


def _val_loss(
    model: CellClassifier,
    crops: torch.Tensor,
    labels: torch.Tensor,
    val: np.ndarray,
    spec: ModelSpec,
    batch_size: int,
) -> tuple[float, float]:
    # Without test-time augmentation: early stopping needs a consistent signal, not the 8x cost per epoch.
    prob = predict_proba(model, crops, val, spec, batch_size, tta=False)
    y = labels[torch.as_tensor(val, device=labels.device)].cpu().numpy()
    p = np.clip(prob, 1e-7, 1 - 1e-7)
    loss = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    auc = float(roc_auc_score(y, prob)) if len(np.unique(y)) == 2 else float("nan")
    return loss, auc


def _keep(state: dict, val_loss: float, val_auc: float, min_auc: float | None) -> bool:
    """Update the early-stopping ``state`` with one epoch; True when its weights are the ones to keep.

    An epoch whose ROC-AUC is below ``min_auc`` is kept only while no epoch has reached it (the paper's
    choice, as a fallback), and never resets patience, so a model that never learns still stops."""
    ranks = min_auc is None or not np.isfinite(val_auc) or val_auc >= min_auc
    if ranks and (not state["qualified"] or val_loss < state["best_loss"]):
        state.update(best_loss=val_loss, best_epoch=state["epoch"], bad_epochs=0, qualified=True)
        return True
    state["bad_epochs"] += 1
    if not state["qualified"] and val_loss < state["best_loss"]:
        state.update(best_loss=val_loss, best_epoch=state["epoch"])
        return True
    return False


def train_classifier(
    spec: ModelSpec,
    crops: torch.Tensor,
    labels: torch.Tensor,
    train: np.ndarray,
    val: np.ndarray,
    params: TrainParams,
    weights: str | Path | None = None,
    checkpoint: str | Path | None = None,
    log: logging.Logger | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Adam + cross-entropy on ``train``; stop when validation loss has not improved for ``patience``
    epochs and return the model with its best-epoch weights (among epochs that rank the validation cells
    at least ``params.min_val_roc_auc`` well, where that is set).

    ``crops``/``labels`` are the whole data set already on the device. A ``checkpoint`` file from the same
    set-up (model, parameters, weights and split, checked by a hash) is resumed from its last epoch,
    including every random state, so a resumed run ends with the same weights as an uninterrupted one.
    """
    log = log or logging.getLogger(__name__)
    device = crops.device
    torch.manual_seed(params.seed)
    model = build_model(spec, weights).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=params.learning_rate)
    generator = torch.Generator().manual_seed(params.seed)
    state = {
        "epoch": 0,
        "best_loss": float("inf"),
        "best_epoch": 0,
        "bad_epochs": 0,
        "qualified": False,
        "history": [],
    }
    best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    fingerprint = _fingerprint(spec, params, weights, train, val)
    checkpoint = Path(checkpoint) if checkpoint else None
    if checkpoint and checkpoint.is_file():
        saved = torch.load(checkpoint, map_location=device, weights_only=True)
        if saved.get("fingerprint") == fingerprint:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            best_weights = saved["best_weights"]
            generator.set_state(saved["generator"])
            torch.set_rng_state(saved["torch_rng"])
            state = json.loads(saved["state"])
            log.info("resumed from %s after epoch %d", checkpoint, state["epoch"])
        else:
            log.info("ignoring %s: it belongs to another set-up", checkpoint)

    train_t = torch.as_tensor(train)
    # BatchNorm cannot train on a batch of one: drop a last batch of a single cell.
    drop_last = len(train) % params.batch_size == 1
    while state["epoch"] < params.epochs and state["bad_epochs"] < params.patience:
        model.train()
        order = train_t[torch.randperm(len(train_t), generator=generator)]
        batches = list(order.split(params.batch_size))
        if drop_last and len(batches) > 1:
            batches = batches[:-1]
        started, seen, total = time.perf_counter(), 0, 0.0
        bar = tqdm(
            batches,
            desc=f"{spec.backbone} epoch {state['epoch'] + 1}",
            unit="batch",
            leave=False,
            disable=None if progress is None else not progress,
        )
        for rows in bar:
            loss = train_step(
                model, optimizer, crops, labels, rows.to(device), spec, generator if params.augment else None
            )
            seen += len(rows)
            total += float(loss.detach()) * len(rows)
            bar.set_postfix(img_s=f"{seen / (time.perf_counter() - started):.1f}")
        rate = seen / (time.perf_counter() - started)
        val_loss, val_auc = _val_loss(model, crops, labels, val, spec, params.batch_size * 2)
        state["epoch"] += 1
        state["history"].append(
            {
                "epoch": state["epoch"],
                "train_loss": total / max(seen, 1),
                "val_loss": val_loss,
                "val_roc_auc": val_auc,
            }
        )
        if _keep(state, val_loss, val_auc, params.min_val_roc_auc):
            best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        log.info(
            "%s epoch %d: train loss %.4f, val loss %.4f, val ROC-AUC %.3f, %.1f images/s",
            spec.backbone,
            state["epoch"],
            total / max(seen, 1),
            val_loss,
            val_auc,
            rate,
        )
        if checkpoint:
            with atomic_path(checkpoint) as tmp:
                torch.save(
                    {
                        "fingerprint": fingerprint,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "best_weights": best_weights,
                        "generator": generator.get_state(),
                        "torch_rng": torch.get_rng_state(),
                        "state": json.dumps(state),
                    },
                    tmp,
                )
    if not state["qualified"]:
        log.warning(
            "no epoch reached validation ROC-AUC %s: kept epoch %d, of lowest validation loss",
            params.min_val_roc_auc,
            state["best_epoch"],
        )
    model.load_state_dict(best_weights)
    model.eval()
    return FitResult(model, pd.DataFrame(state["history"]), state["best_epoch"], state["best_loss"])
