"""Cellpose as the segmenter (``imaging.segmenter: cellpose``): a learned model run on the shape channel,
with the nuclei channel when imaged, writing the same label images the watershed does, so the rest of the
branch and scoring read them unchanged. The objects then go through the watershed's size and border rules
(``imaging.segmentation``: min_area, min_area_share, max_area, drop_border), so switching segmenters changes
how cells are found, not which cells count.

Cellpose is an optional install (its 3.1 series: the residual U-Net models such as cyto3, and models
trained with it); its absence is reported by name, with the command that installs it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from morphopotency.io.atomic import atomic_path
from morphopotency.provenance import sha256

INSTALL = (
    "`make setup` installs it; by hand: pip install --no-deps 'cellpose==3.1.1.3' fastremap fill-voids "
    "roifile natsort (its metadata caps numpy below 2.1, which the pinned numpy 2.4 does not need), or "
    "pip install 'morphopotency[cellpose]' to let pip choose an older numpy"
)
MODEL_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")

if TYPE_CHECKING:  # the plan imports this module at parse time: scikit-image only where labels are made
    from morphopotency.imaging.segment import SegmentationParams


class SegmenterUnavailable(RuntimeError):
    """Cellpose, or its model, is not available here: the message says how to get it."""


@dataclass(frozen=True)
class CellposeParams:
    """The settings of ``imaging.cellpose`` (config schema), less the model (a file by the time they
    apply: see fetch_model)."""

    diameter: float | None = None  # px; None: the model's own (its training cells' median)
    flow_threshold: float = 0.4
    cellprob_threshold: float = 0.0
    gpu: bool = True  # on a GPU when the job has one


def cellpose_models() -> Any:
    """Cellpose's ``models`` module, or SegmenterUnavailable naming the install."""
    try:
        from cellpose import models
    except ImportError as error:
        raise SegmenterUnavailable(
            f"imaging.segmenter: cellpose needs Cellpose 3.1, which is not installed ({error}): {INSTALL}"
        ) from None
    return models


def is_model_file(model: str) -> bool:
    """A model given as a file (a path, or a name with a weights suffix), not a built-in name."""
    return "/" in model or Path(model).suffix in MODEL_SUFFIXES or Path(model).is_file()


def fetch_model(model: str, dest: str | Path) -> Path:
    """Copy the run's model to ``dest``: a file as it is; a built-in name from Cellpose's own model folder,
    where Cellpose downloads it once (``CELLPOSE_LOCAL_MODELS_PATH`` moves that folder: a cluster's
    head node fetches, the compute nodes read the copy)."""
    if is_model_file(model):
        source = Path(model)
        if not source.is_file():
            raise SegmenterUnavailable(f"imaging.cellpose.model: file not found: {model}")
    else:
        models = cellpose_models()
        if model not in models.MODEL_NAMES:
            raise SegmenterUnavailable(
                f"imaging.cellpose.model {model!r} is neither a file nor one of Cellpose's built-in models "
                f"({', '.join(dict.fromkeys(models.MODEL_NAMES))})"
            )
        try:
            source = Path(models.model_path(model))
        except Exception as error:  # urllib, HTTP and file errors alike mean "not fetched"
            raise SegmenterUnavailable(
                f"Cellpose's built-in model {model} could not be fetched ({type(error).__name__}: {error}). "
                "Without network: on a machine with network run "
                f"`python -c \"from cellpose import models; print(models.model_path('{model}'))\"`, copy the "
                "file it prints here and set imaging.cellpose.model to it (or into the folder that "
                "CELLPOSE_LOCAL_MODELS_PATH names)"
            ) from error
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)
    return Path(dest)


def check_model(path: str | Path, expected_sha256: str | None) -> str:
    """The model file's SHA-256, refusing one other than ``expected_sha256`` (a bundle's reference model:
    a lot segmented by another model is not comparable with it)."""
    found = sha256(path)
    if expected_sha256 and found != expected_sha256:
        raise SegmenterUnavailable(
            f"{path}: Cellpose model SHA-256 {found}, but the bundle's reference was segmented with "
            f"{expected_sha256}: score with the bundle's own model file"
        )
    return found


def segment_cellpose(
    shape: np.ndarray,
    nuclei: np.ndarray | None,
    model_file: str | Path,
    params: CellposeParams = CellposeParams(),
    tidy: SegmentationParams | None = None,
) -> np.ndarray:
    """Cell labels from a Cellpose model file: the shape channel as Cellpose's cytoplasm channel and the
    nuclei, when imaged, as its nuclear one; then the watershed's size and border rules (``tidy``)."""
    import torch

    from morphopotency.imaging.segment import SegmentationParams, tidy_labels

    models = cellpose_models()

    model = models.CellposeModel(
        gpu=bool(params.gpu and torch.cuda.is_available()), pretrained_model=str(model_file)
    )
    if nuclei is None:
        data, channels, axis = shape.astype(np.float32), [0, 0], None
    else:
        data, channels, axis = np.stack([shape, nuclei]).astype(np.float32), [1, 2], 0
    masks = model.eval(
        data,
        channels=channels,
        channel_axis=axis,
        diameter=params.diameter,
        flow_threshold=params.flow_threshold,
        cellprob_threshold=params.cellprob_threshold,
    )[0]
    return tidy_labels(np.asarray(masks, dtype=np.int32), tidy or SegmentationParams())
