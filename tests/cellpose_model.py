"""A small Cellpose model the tests make (no weights can be downloaded here): Cellpose's own training, from
random weights, on the fields the demo simulator draws for a config's donors, with their planted masks,
for a few dozen steps. It learns those cells well: enough for the workflow to run on what it segments, and
to show the rule hands Cellpose the right channels and diameter (a wrong one segments the cells badly)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def train_demo_model(dest: Path, demo: Mapping[str, Any], epochs: int = 40) -> Path:
    """Train on the demo's fields of every donor of ``demo`` (the config's demo section: the same seed,
    sizes and blur, so the same fields) and save to ``dest``; the diameter the model records is the
    fields' median cell diameter."""
    import torch
    from cellpose import models, train

    from morphopotency.simulate.images import simulate_donor

    torch.manual_seed(0)
    images, masks = [], []
    for donor, fraction in demo["multipotent_fraction"].items():
        blur = demo.get("blur", {}).get(donor, 1.0)
        for _, f in simulate_donor(
            demo["seed"],
            donor,
            demo["fields_per_donor"],
            demo["image_size"],
            demo["cells_per_field"],
            fraction,
            blur,
        ):
            images.append(f.image[[0, 2]].astype(np.float32))
            masks.append(f.labels.astype(np.int32))
    areas = np.concatenate([np.bincount(m.ravel())[1:] for m in masks])
    diameter = float(np.median(2 * np.sqrt(areas[areas > 0] / np.pi)))
    model = models.CellposeModel(gpu=False, pretrained_model=False, diam_mean=diameter)
    (dest.parent / "models").mkdir(parents=True, exist_ok=True)  # Cellpose saves under save_path/models
    saved = train.train_seg(
        model.net,
        train_data=images,
        train_labels=masks,
        channels=[1, 2],
        channel_axis=0,
        n_epochs=epochs,
        batch_size=12,
        nimg_per_epoch=36,
        learning_rate=0.01,
        bsize=64,
        rescale=False,
        min_train_masks=1,
        save_path=dest.parent,
        model_name=dest.name,
    )[0]
    Path(saved).replace(dest)
    return dest
