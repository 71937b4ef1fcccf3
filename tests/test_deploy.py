"""Deployed as the Snakemake catalog documents: a user's project folder whose own workflow/Snakefile
takes this workflow in with the ``module`` directive (here from a local path; a git tag works the same
way) and runs it on the user's config. The library comes from the installed package, not from a path
the workflow exports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.workflow_helpers import TEST_CONFIG

pytestmark = pytest.mark.workflow

USER_SNAKEFILE = f"""from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


module morphopotency:
    snakefile:
        "{REPO / "Snakefile"}"
    config:
        config


use rule * from morphopotency as morphopotency_*
"""


def test_module_deployment_runs_the_tiny_workflow_in_the_users_folder(tmp_path):
    project = tmp_path / "my-lab-project"
    (project / "workflow").mkdir(parents=True)
    (project / "workflow" / "Snakefile").write_text(USER_SNAKEFILE)
    shutil.copytree(TEST_CONFIG, project / "config")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "morphopotency_all"]
    run = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=900, env=env)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    for target in (
        "results/report/donor_report.html",
        "results/rnaseq/enrichment/go_bp.tsv",
        "results/imaging/shape_modes/assignments.tsv",
        "results/demo/truth/donors.tsv",
    ):
        assert (project / target).is_file(), target
    # The shipped GO gene sets were found in the deployed workflow's folder, not the user's.
    assert not (project / "resources").exists()
    manifest = (project / "results/provenance/inputs.tsv").read_text()
    assert str(REPO / "resources/go/GO_BP_orgHs.eg.db_3.16.0.gmt.gz") in manifest
    assert "rule morphopotency_rnaseq_pca" in run.stdout + run.stderr


def test_catalog_files_point_at_what_exists():
    import tomllib

    import yaml

    catalog = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    assert (REPO / catalog["usage"]["snakefile"]).is_file()
    assert (REPO / "config" / "README.md").is_file() and (REPO / ".test" / "config" / "samples.tsv").is_file()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and (REPO / "LICENSE").read_text().startswith("MIT License")
    snakefile = (REPO / "Snakefile").read_text()
    report = next(line for line in snakefile.splitlines() if line.startswith("report:"))
    assert (REPO / report.split('"')[1]).is_file()


def test_entry_point_and_common_stay_thin():
    """Decisions live in morphopotency.plan; the Snakemake layer holds input functions only."""
    assert len((REPO / "Snakefile").read_text().splitlines()) <= 50
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    assert len(common.splitlines()) <= 120
    assert "validate(" not in common and "raise ConfigError" not in common and "_fail" not in common
