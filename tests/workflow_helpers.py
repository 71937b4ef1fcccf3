"""Run Snakemake on a tiny project in a temporary folder, as a user would from their own directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

SAMPLES_HEADER = "sample\tdonor\tcondition\trnaseq_column\timages\n"


def tiny_config(**overrides) -> dict:
    """Three donors, one small field each, a few hundred genes: seconds, not minutes."""
    config = {
        "samples": "config/samples.tsv",
        "demo": {
            "enabled": True,
            "seed": 3,
            "outdir": "results/demo",
            "fields_per_donor": 1,
            "image_size": 160,
            "cells_per_field": 6,
            "n_genes": 400,
            "multipotent_fraction": {"S1": 0.3, "S8": 0.7, "S9": 0.6},
        },
        "rnaseq": {
            "table": "results/demo/rnaseq/demo_counts.tsv.gz",
            "values": "counts",
            "gene_lengths": "results/demo/rnaseq/gene_lengths.tsv",
            "gene_sets": {
                "bp": str(REPO / "resources/go/GO_BP_orgHs.eg.db_3.16.0.gmt.gz"),
                "cc": str(REPO / "resources/go/GO_CC_orgHs.eg.db_3.16.0.gmt.gz"),
            },
        },
        # 3 tiny fields hold about 14 cells; 100 K-means runs and 2 stability seeds instead of 3000 and 5
        # take the shape-mode job from 16 s to under 1 s (test_imaging_workflow runs the full consensus).
        "imaging": {"shape_modes": {"k": 4, "runs": 100, "stability_seeds": 2}},
        # Three tiny fields hold too few cells and images for grouped 5-fold CV; test_cnn_workflow runs it.
        "cnn": {"enabled": False},
    }
    for key, value in overrides.items():
        config[key] = value
    return config


TINY_SAMPLES = [
    "S1\tS1\tstem\tS1\tresults/demo/images/S1",
    "S8\tS8\tstem\tS8\tresults/demo/images/S8",
    "S9\tS9\tstem\tS9\tresults/demo/images/S9",
    "D8\tS8\tdifferentiated\tD8\t",
    "D9\tS9\tdifferentiated\tD9\t",
]


def write_project(root: Path, config: dict, samples: list[str] = TINY_SAMPLES) -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "config" / "samples.tsv").write_text(SAMPLES_HEADER + "".join(r + "\n" for r in samples))
    return root


def snakemake(root: Path, *args: str, timeout: int = 600, env: dict[str, str] | None = None, session: bool = False) -> subprocess.CompletedProcess:
    """``session``: run in a process group of its own, so a test can kill Snakemake and its jobs together."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(root), "--cores", "2", *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, cwd=root, env=None if env is None else {**os.environ, **env}, start_new_session=session
    )
