"""Batches on the device: uint8 crops → resized, min-max normalised float input, augmented in place of a
DataLoader, so no image is decoded or copied through Python inside the training loop."""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"cnn.device is {name!r} but no CUDA device is visible (set cnn.device: auto or cpu)"
        )
    return torch.device(name)


def reproducible_mkl() -> None:
    """Ask MKL (torch's CPU BLAS) for one code path, unless the environment already chose one.

    Without it, one training in a few dozen on a loaded 2-core machine took another MKL code path and
    ended with other weights than its rerun at the same thread count: MKL_CBWR=COMPATIBLE (MKL's
    documented Conditional Numerical Reproducibility switch) fixes the path, at no measured cost to CNN
    throughput. MKL reads it at the process's first MKL computation, so call this before any."""
    os.environ.setdefault("MKL_CBWR", "COMPATIBLE")


def cpu_threads(threads: int) -> None:
    """Set a CNN job's CPU threads, on MKL's reproducible path (``reproducible_mkl``)."""
    reproducible_mkl()
    torch.set_num_threads(threads)


def to_device(crops: np.ndarray, device: torch.device) -> torch.Tensor:
    """The whole crop array as one uint8 tensor on the device (1,000 cells of 128² are 16 MB)."""
    return torch.from_numpy(np.ascontiguousarray(crops)).to(device)


def prepare(batch: torch.Tensor, size: int, in_chans: int = 3) -> torch.Tensor:
    """uint8 (N, H, W) → float (N, in_chans, size, size): resize, then per-image min-max to [0, 1]."""
    x = batch.unsqueeze(1).float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    low = x.amin(dim=(1, 2, 3), keepdim=True)
    high = x.amax(dim=(1, 2, 3), keepdim=True)
    x = (x - low) / (high - low).clamp_min(1e-6)
    return x.expand(-1, in_chans, -1, -1).contiguous() if in_chans > 1 else x


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random multiples of 90° rotation and horizontal/vertical flips per image (the paper's augmentation)."""
    n = x.shape[0]
    draws = torch.randint(0, 4, (n,), generator=generator)
    flips = torch.randint(0, 2, (2, n), generator=generator).bool()
    out = x.clone()
    for k in (1, 2, 3):
        chosen = (draws == k).nonzero().flatten().to(x.device)
        if chosen.numel():
            out[chosen] = torch.rot90(x[chosen], k, dims=(-2, -1))
    h = flips[0].to(x.device).view(-1, 1, 1, 1)
    v = flips[1].to(x.device).view(-1, 1, 1, 1)
    out = torch.where(h, out.flip(-1), out)
    return torch.where(v, out.flip(-2), out)
