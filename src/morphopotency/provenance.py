"""What a run was made from: input checksums, so a report can be traced to its exact inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

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
