"""Training throughput (images/s) of densenet121 at 224 px: our loop against a plain fp32 eager loop fed by
a DataLoader, measured in the same run, printed as a ratio.

- ours: the library's ``train_step`` on uint8 crops held in memory on the device, resized, normalised and
  augmented there; bf16 autocast and channels_last on CUDA.
- baseline: PNG files decoded by a torchvision-style Dataset in a DataLoader (2 workers, pinned memory on
  CUDA), transforms on the CPU, fp32, default memory format.

Both run the same model, optimiser and batch size (the config's 32) on the same synthetic 128 px cell
crops, after warm-up batches: 5 timed batches on the CPU, 30 on a GPU, where a few batches of milliseconds
each time the launch of the loop more than the loop.
Run: .venv/bin/python bench/train_throughput.py [--device cuda] [--batches N] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from morphopotency.cnn.model import ModelSpec, build_model
from morphopotency.cnn.tensors import resolve_device, to_device
from morphopotency.cnn.train import train_step


def synthetic_crops(n: int, side: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    crops = np.zeros((n, side, side), dtype=np.uint8)
    labels = rng.integers(0, 2, n)
    for i, label in enumerate(labels):
        a, b = (40, 36) if label else (55, 14)
        crops[i][((yy - side / 2) / a) ** 2 + ((xx - side / 2) / b) ** 2 < 1] = rng.integers(100, 255)
    return crops, labels


class PngCells(Dataset):
    def __init__(self, files: list[Path], labels: np.ndarray, size: int):
        self.files, self.labels = files, labels
        self.transform = v2.Compose(
            [
                v2.PILToTensor(),
                v2.Resize((size, size), antialias=True),
                v2.ToDtype(torch.float32, scale=True),
                v2.RandomHorizontalFlip(),
                v2.RandomVerticalFlip(),
                v2.Lambda(lambda x: x.expand(3, -1, -1)),
            ]
        )

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        return self.transform(Image.open(self.files[i])), int(self.labels[i])


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU, {torch.get_num_threads()} threads"


def rate(step, batches: int, warmup: int, batch_size: int, device: torch.device) -> float:
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batches * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backbone", default="densenet121")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32, help="cnn.batch_size's default")
    parser.add_argument("--batches", type=int, help="timed batches (default: 5 on the CPU, 30 on a GPU)")
    parser.add_argument("--warmup", type=int, help="(default: 2 on the CPU, 5 on a GPU)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    args.batches = args.batches or (30 if gpu else 5)
    args.warmup = args.warmup or (5 if gpu else 2)
    n = args.batch_size * (args.batches + args.warmup)
    crops, labels = synthetic_crops(n)
    spec = ModelSpec(args.backbone, args.size)

    torch.manual_seed(0)
    model = build_model(spec).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    data, y = to_device(crops, device), torch.as_tensor(labels, device=device)
    generator = torch.Generator().manual_seed(0)
    batches = iter(torch.randperm(n, generator=generator).split(args.batch_size) * 100)
    ours = rate(
        lambda: train_step(model, optimizer, data, y, next(batches).to(device), spec, generator),
        args.batches,
        args.warmup,
        args.batch_size,
        device,
    )

    torch.manual_seed(0)
    model = build_model(spec).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, crop in enumerate(crops):
            files.append(Path(tmp) / f"cell{i}.png")
            Image.fromarray(crop).save(files[-1])
        loader = DataLoader(
            PngCells(files, labels, args.size),
            batch_size=args.batch_size,
            shuffle=True,
            num_workers=2,
            pin_memory=device.type == "cuda",
            drop_last=True,
            persistent_workers=True,
        )
        stream = (batch for _ in range(100) for batch in loader)

        def plain_step():
            x, target = next(stream)
            x, target = x.to(device, non_blocking=True), target.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        baseline = rate(plain_step, args.batches, args.warmup, args.batch_size, device)

    print(
        f"{args.backbone} at {args.size} px, batch {args.batch_size}, {args.batches} timed batches on "
        f"{device_name(device)}"
    )
    print(
        "  ours (uint8 in memory, on-device "
        f"augmentation{', bf16 + channels_last' if device.type == 'cuda' else ''}): {ours:8.1f} images/s"
    )
    print(f"  baseline (fp32 eager, DataLoader over PNG files):                 {baseline:8.1f} images/s")
    print(f"  ratio ours / baseline: {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
