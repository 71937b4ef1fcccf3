"""Cluster resources of the workflow's jobs: memory and run time that grow with each retry, so a job
killed for memory or time by the scheduler gets more on its next attempt (profiles/slurm retries twice)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any


def by_attempt(base: int) -> Callable[..., int]:
    """``base`` (MB or minutes) times the attempt number."""
    return lambda wildcards, attempt: base * attempt


def input_mb(files: Iterable[str]) -> float:
    """Size of the files that exist, in MB. A plain stat: Snakemake's ``input.size_mb`` goes through its
    storage layer and cost 0.5 ms a job, a second of every dry run at 2,000 images."""
    return sum(os.stat(f).st_size for f in files if os.path.exists(f)) / 1e6


def segmentation_mem_mb(wildcards: Any, input: Any, attempt: int) -> int:
    # Every channel as float64 plus smoothed, background and watershed copies: ~40x the uint16 image file.
    return int((1000 + 40 * input_mb(input)) * attempt)
