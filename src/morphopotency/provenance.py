"""What a run was made from: input checksums, config hash, package versions, commit and run times, so a
report can be traced to its exact inputs and code."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd


def sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_manifest(paths: Iterable[str | Path], roles: Iterable[str]) -> pd.DataFrame:
    """One row per input file: role, path, size in bytes and SHA-256, in the given order."""
    rows = [
        {"role": role, "path": str(p), "bytes": Path(p).stat().st_size, "sha256": sha256(p)}
        for p, role in zip(paths, roles, strict=True)
    ]
    return pd.DataFrame(rows, columns=["role", "path", "bytes", "sha256"])


PACKAGES = (
    "morphopotency",
    "snakemake",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "anndata",
    "tifffile",
    "matplotlib",
    "pydeseq2",
    "gseapy",
    "torch",
    "torchvision",
    "timm",
    "optuna",
    "safetensors",
)


def package_versions(names: Iterable[str] = PACKAGES) -> pd.DataFrame:
    """Installed version of each package ("not installed" rather than failing: the RNA-seq env has no
    torch).
    """
    from importlib.metadata import PackageNotFoundError, version

    rows = []
    for name in names:
        try:
            rows.append({"package": name, "version": version(name)})
        except PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return pd.DataFrame(rows)


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the config as canonical JSON (sorted keys), so equal settings hash equally."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def git_commit(directory: str | Path) -> str:
    """The workflow's commit, with "+uncommitted changes" when the tree is dirty; "not a git checkout"."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "not a git checkout"
    return commit + (" +uncommitted changes" if dirty else "")


_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")


def run_span(log_files: Iterable[str | Path]) -> dict[str, str | float]:
    """First and last timestamp over the jobs' logs (each line starts with one) and the time between.

    Why logs: they are written by every job of the run, while a Snakemake parameter holding a start time
    would change on every invocation and make the report re-run each time.
    """
    stamps = []
    for path in log_files:
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            if match := _STAMP.match(line):
                stamps.append(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"))
    if not stamps:
        return {"started": "unknown", "finished": "unknown", "duration_s": float("nan")}
    first, last = min(stamps), max(stamps)
    return {
        "started": first.isoformat(sep=" "),
        "finished": last.isoformat(sep=" "),
        "duration_s": (last - first).total_seconds(),
    }
