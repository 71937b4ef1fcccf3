"""Logging for Snakemake scripts: one log file per job, named by the rule's ``log:``."""

from __future__ import annotations

import logging
from pathlib import Path


def job_logger(log_path: str | Path, name: str) -> logging.Logger:
    """A logger writing to the job's log file (created with its folder)."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"morphopotency.{name}")
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers[:] = [handler]
    return logger
