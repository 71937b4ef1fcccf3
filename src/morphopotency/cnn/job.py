"""What every training job (a cross-validation fold, a learning-rate trial, the final model) sets up the
same way: the cells on the device, one split's rows, the model spec and its starting weights."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from morphopotency.cnn import data
from morphopotency.cnn.model import ModelSpec
from morphopotency.cnn.settings import model_spec
from morphopotency.cnn.sources import weights_file
from morphopotency.cnn.splits import fold_indices, leave_donor_out
from morphopotency.cnn.tensors import cpu_threads, resolve_device, to_device
from morphopotency.cnn.train import FitResult, TrainParams, train_classifier


@dataclass(frozen=True)
class TrainingJob:
    cells: data.CellData
    crops: torch.Tensor
    labels: torch.Tensor
    index: dict[str, np.ndarray]
    spec: ModelSpec
    weights: str | None
    device: torch.device

    def train(
        self, params: TrainParams, checkpoint: str | Path | None = None, log: logging.Logger | None = None
    ) -> FitResult:
        """Train on the split's train rows, early-stopping on its validation rows."""
        return train_classifier(
            self.spec,
            self.crops,
            self.labels,
            self.index["train"],
            self.index["val"],
            params,
            weights=self.weights,
            checkpoint=checkpoint,
            log=log,
        )


def prepare(
    cnn: Mapping[str, Any],
    backbone: str,
    crops: str | Path,
    cells: str | Path,
    splits: str | Path,
    fold: int | None,
    threads: int,
    held_out_donor: str | None = None,
) -> TrainingJob:
    """Load the data set once onto the job's device (uint8, as the design asks) with fold ``fold``'s rows,
    or, given ``held_out_donor``, the rows of that donor's leave-one-donor-out split (``cnn`` then holds
    group_by and lodo_val_fraction)."""
    cpu_threads(threads)
    device = resolve_device(cnn["device"])
    loaded = data.load(crops, cells)
    if held_out_donor is None:
        index = fold_indices(pd.read_csv(splits, sep="\t"), fold)
    else:
        index = leave_donor_out(
            loaded.cells, held_out_donor, cnn["group_by"], cnn["lodo_val_fraction"], cnn["seed"]
        )
    return TrainingJob(
        cells=loaded,
        crops=to_device(loaded.crops, device),
        labels=torch.as_tensor(loaded.labels, device=device),
        index=index,
        spec=model_spec(cnn, backbone),
        weights=weights_file(cnn, backbone),
        device=device,
    )
