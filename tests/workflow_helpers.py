"""Run Snakemake on a tiny project in a temporary folder, as a user would from their own directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import REPO

TEST_CONFIG = REPO / ".test" / "config"


def tiny_config(**overrides) -> dict:
    """The tiny test cohort of ``.test/config/config.yaml`` with whole sections replaced: seconds, not
    minutes.
    """
    config = yaml.safe_load((TEST_CONFIG / "config.yaml").read_text())
    for key, value in overrides.items():
        config[key] = value
    return config


SAMPLES_HEADER, *TINY_SAMPLES = (TEST_CONFIG / "samples.tsv").read_text().splitlines()
SAMPLES_HEADER += "\n"


def cnn_config() -> dict:
    """The tiny demo with every stage on, the CNN included: two folds of four epochs on 32-px crops."""
    config = tiny_config(
        cnn={
            "enabled": True,
            "backbones": ["resnet18"],
            "pretrained": "none",
            "image_size": 32,
            "epochs": 4,
            "patience": 4,
            "folds": 2,
            "group_by": "none",
            "batch_size": 4,
            "lr_search": {"trials": 2, "repeats": 1, "startup_trials": 1, "epochs": 1},
        }
    )
    config["imaging"]["ssea3_threshold"] = "otsu"  # the tiny fields are all below the default 90
    # N1, a new donor lot: imaged without SSEA3 and scored by the model the three reference donors train.
    config["demo"]["multipotent_fraction"]["N1"] = 0.5
    config["demo"]["blur"] = {"N1": 2.0}
    return config


# The tiny sheet with a role column: the three donors train, N1 is scored.
CNN_SAMPLES_HEADER = SAMPLES_HEADER.rstrip("\n") + "\trole\n"
CNN_SAMPLES = [f"{row}\treference" for row in TINY_SAMPLES] + [
    "N1\tN1\tstem\t\tresults/demo/images/N1\tscore"
]


def write_project(
    root: Path, config: dict, samples: list[str] = TINY_SAMPLES, header: str = SAMPLES_HEADER
) -> Path:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (root / "config" / "samples.tsv").write_text(header + "".join(r + "\n" for r in samples))
    return root


def snakemake(
    root: Path, *args: str, timeout: int = 600, env: dict[str, str] | None = None, session: bool = False
) -> subprocess.CompletedProcess:
    """``session``: run in a process group of its own, so a test can kill Snakemake and its jobs together."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(root),
        "--cores",
        "2",
        *args,
    ]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env=None if env is None else {**os.environ, **env},
        start_new_session=session,
    )


def write_cnn_project(root: Path, config: dict) -> Path:
    """A project of the tiny CNN cohort: three reference donors and N1 to score."""
    return write_project(root, config, CNN_SAMPLES, CNN_SAMPLES_HEADER)


def shipped_samples(reference_only: bool = False) -> tuple[str, list[str]]:
    """The shipped sample sheet (header line, rows); ``reference_only`` leaves out the donors it scores
    (N1-N3), for runs without the CNN."""
    header, *rows = (REPO / "config" / "samples.tsv").read_text().splitlines()
    if reference_only:
        rows = [r for r in rows if r.split("\t")[-1] != "score"]
    return header + "\n", rows


def assert_lint_clean(root: Path, *args: str) -> None:
    """``snakemake --lint`` on a project reports nothing: no lint of a rule, of the config or the workflow."""
    result = snakemake(root, "--lint", *args)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in out
    assert "Lints for" not in out, out[-3000:]
