"""Wall time of the paper's CNN protocol (config/paper.yaml laid over config/config.yaml) on this machine:
every backbone measured with the library's own training loop, then projected onto the protocol's trainings.

- Data: the paper's data-set size (1,850 single-cell crops, 70 / 10 / 20 %), synthetic 128 px crops held
  as the workflow holds them (uint8 on the device), at the config's image size and batch size.
- Each backbone trains with ``train_classifier`` for one warm-up epoch (model build, cuDNN autotuning)
  and ``--epochs`` timed epochs (each a training pass and a validation pass), read off the loop's own
  per-epoch log lines; its test cells are then predicted once.
- The protocol's trainings are counted from the config: ``folds`` per backbone, and on the selected
  backbone (``--selected``, the paper's DenseNet121) ``trials`` x ``repeats`` learning-rate trials, the
  final model and, with ``cnn.lodo``, one model per donor. Early stopping ends each training after
  ``patience + 1`` to ``epochs`` epochs, so the projection is a range, for one device running one job at
  a time (a cluster with several GPUs runs the folds side by side).

Run: .venv/bin/python bench/paper_protocol.py [--device cuda] [--epochs 3]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from train_throughput import device_name, synthetic_crops

from morphopotency.cnn.settings import model_spec, train_params
from morphopotency.cnn.tensors import cpu_threads, resolve_device, to_device
from morphopotency.cnn.train import predict_proba, train_classifier
from morphopotency.config import load_schema, with_defaults

ROOT = Path(__file__).resolve().parents[1]


def layered(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` laid onto ``base`` key by key, as Snakemake lays a --configfile over the Snakefile's.

    Written here rather than calling snakemake.utils.update_config: the benchmark runs on GPU machines
    that have torch and timm but not Snakemake."""
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        out[key] = (
            layered(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
            else copy.deepcopy(value)
        )
    return out


def protocol_cnn(configs: list[Path]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for path in configs:
        config = layered(config, yaml.safe_load(path.read_text()))
    return with_defaults(config, load_schema(ROOT / "workflow/schemas/config.schema.yaml"))["cnn"]


def trainings(cnn: Mapping[str, Any], selected: str, donors: int) -> dict[str, dict[str, int]]:
    """How many times the protocol trains each backbone, by role (each role's epochs: cnn.epochs, or
    cnn.lr_search.epochs for the trials)."""
    search = cnn["lr_search"]
    out = {b: {"folds": int(cnn["folds"])} for b in cnn["backbones"]}
    out[selected].update({"lr trials": int(search["trials"]) * int(search["repeats"]), "final": 1})
    if cnn["lodo"]:
        out[selected]["leave-one-donor-out"] = donors
    return out


class EpochClock(logging.Handler):
    """The times at which the training loop logs the end of an epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if " epoch " in record.getMessage():
            self.ends.append(time.perf_counter())


def measure(
    cnn: Mapping[str, Any],
    backbone: str,
    crops: torch.Tensor,
    labels: torch.Tensor,
    split: Mapping[str, np.ndarray],
    epochs: int,
    log: logging.Logger,
) -> dict[str, float]:
    """Seconds of the warm-up epoch, of a later epoch (mean), and of predicting the test cells; train
    img/s is training cells per second of an epoch, its validation pass included."""
    spec = model_spec(cnn, backbone)
    params = dataclasses.replace(train_params(cnn, epochs=epochs + 1), patience=epochs + 2)
    clock = EpochClock()
    log.addHandler(clock)
    start = time.perf_counter()
    fit = train_classifier(spec, crops, labels, split["train"], split["val"], params, log=log, progress=False)
    log.removeHandler(clock)
    ends = [start, *clock.ends]
    steady = float(np.mean(np.diff(ends[1:])))
    predict_start = time.perf_counter()
    predict_proba(fit.model, crops, split["test"], spec, params.batch_size * 2)
    if crops.device.type == "cuda":
        torch.cuda.synchronize()
    return {
        "size": spec.image_size,
        "first": ends[1] - ends[0],
        "epoch": steady,
        "rate": len(split["train"]) / steady,
        "predict": time.perf_counter() - predict_start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after the warm-up epoch")
    parser.add_argument("--cells", type=int, default=1850, help="the paper's 1,850 cells")
    parser.add_argument("--donors", type=int, default=5)
    parser.add_argument("--selected", default="densenet121", help="the backbone the comparison picks")
    parser.add_argument("--backbones", nargs="*", help="instead of the config's (a quick check)")
    parser.add_argument("--image-size", type=int, help="instead of the config's (a quick check)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads when there is no GPU")
    args = parser.parse_args()
    cnn = protocol_cnn([ROOT / "config/config.yaml", ROOT / "config/paper.yaml"])
    cnn["pretrained"] = "none"  # ImageNet weights change the numbers, not the time, and need no download
    if args.backbones:
        cnn["backbones"] = args.backbones
    if args.image_size:
        cnn["image_size"] = args.image_size
    selected = args.selected if args.selected in cnn["backbones"] else cnn["backbones"][0]
    cpu_threads(args.threads)
    device = resolve_device(args.device)
    raw, y = synthetic_crops(args.cells)
    order = np.random.default_rng(0).permutation(args.cells)
    n_train, n_val = round(0.7 * args.cells), round(0.1 * args.cells)
    split = {
        "train": np.sort(order[:n_train]),
        "val": np.sort(order[n_train : n_train + n_val]),
        "test": np.sort(order[n_train + n_val :]),
    }
    crops, labels = to_device(raw, device), torch.as_tensor(y, device=device)
    log = logging.getLogger("paper_protocol")
    log.setLevel(logging.INFO)
    print(
        f"Paper protocol on {device_name(device)} (torch {torch.__version__}): {args.cells} cells "
        f"({n_train} train / {n_val} val / {len(split['test'])} test), batch {cnn['batch_size']}, "
        f"{args.epochs} timed epochs after one warm-up"
    )
    print(f"{'backbone':<17}{'px':>5}{'warm-up s':>11}{'s/epoch':>9}{'train img/s':>13}{'predict s':>11}")
    timed = {}
    for backbone in cnn["backbones"]:
        timed[backbone] = measure(cnn, backbone, crops, labels, split, args.epochs, log)
        t = timed[backbone]
        print(
            f"{backbone:<17}{t['size']:>5}{t['first']:>11.1f}{t['epoch']:>9.2f}{t['rate']:>13.0f}"
            f"{t['predict']:>11.2f}"
        )
    low_epochs, high_epochs = int(cnn["patience"]) + 1, int(cnn["epochs"])
    search_epochs = int(cnn["lr_search"]["epochs"] or cnn["epochs"])
    print(
        f"\nProjected protocol ({low_epochs} to {high_epochs} epochs per training, early stopping; "
        f"one job at a time):"
    )
    total = np.zeros(2)
    for backbone, counts in trainings(cnn, selected, args.donors).items():
        t = timed[backbone]
        for role, n in counts.items():
            top = search_epochs if role == "lr trials" else high_epochs
            span = np.array([min(low_epochs, top), top]) * t["epoch"] + t["first"] - t["epoch"] + t["predict"]
            total += n * span
            print(f"  {backbone:<17}{role:<21}{n:>4} x {span[0] / 60:6.1f} to {span[1] / 60:6.1f} min")
    print(f"  total: {total[0] / 3600:.1f} to {total[1] / 3600:.1f} hours")


if __name__ == "__main__":
    main()
