"""Logging for Snakemake scripts: one log file per job, named by the rule's ``log:``."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from types import TracebackType


def job_logger(log_path: str | Path, name: str) -> logging.Logger:
    """A logger writing to the job's log file (created with its folder).

    It also takes the job's uncaught exception: Snakemake shows a failed script's traceback on its own
    console only, so without this the job log (the one file a cluster user opens) stays empty exactly
    when it is needed. Each job is a process of its own, so the hook lives and dies with the job."""
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(f"morphopotency.{name}")
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(log_path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.handlers[:] = [handler]
    sys.excepthook = _logging_hook(logger, sys.excepthook)
    return logger


def _logging_hook(logger: logging.Logger, previous):
    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        logger.error("%s: %s", kind.__name__, error)  # the message first: what a user acts on
        logger.error("traceback:\n%s", "".join(traceback.format_exception(kind, error, trace)).rstrip())
        previous(kind, error, trace)

    return hook
