"""Cluster resources of the workflow's jobs: memory and run time that grow with each retry, so a job
killed for memory or time by the scheduler gets more on its next attempt (profiles/slurm retries twice)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def by_attempt(base: int) -> Callable[..., int]:
    """``base`` (MB or minutes) times the attempt number."""
    return lambda wildcards, attempt: base * attempt


def segmentation_mem_mb(wildcards: Any, input: Any, attempt: int) -> int:
    # Every channel as float64 plus smoothed, background and watershed copies: ~40x the uint16 image file.
    return int((1000 + 40 * input.size_mb) * attempt)
