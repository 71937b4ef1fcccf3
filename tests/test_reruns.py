"""Interrupted, resumed and repeated runs, end to end through Snakemake.

A job is killed with SIGKILL (what the out-of-memory killer or a lost node does: no clean-up code runs) by
tests/kill_hook, at the moment of greatest risk: its output fully written to the temporary file, just
before the rename. The run must then hold no file a later run would take as complete, and the re-run must
give the bytes an uninterrupted run gives. For the CNN, the training job is killed after its second
epoch's checkpoint: the re-run must resume there and end on the uninterrupted run's weights, predictions
and metrics. Two runs from a clean ``results/`` must write identical tables.
"""

from __future__ import annotations

import hashlib
import json
import os

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from tests.conftest import REPO
from tests.workflow_helpers import snakemake, tiny_config, write_project

pytestmark = pytest.mark.workflow

HOOK = REPO / "tests" / "kill_hook"


def killed_at(name: str, nth: int = 1) -> dict[str, str]:
    """Environment for a run whose process dies just before its ``nth`` atomic rename onto ``name``."""
    path = os.pathsep.join(filter(None, [str(HOOK), os.environ.get("PYTHONPATH")]))
    return {"PYTHONPATH": path, "MORPHOPOTENCY_TEST_KILL": json.dumps({"name": name, "nth": nth})}


def temporaries(root) -> list[str]:
    return [str(p.relative_to(root)) for p in (root / "results").rglob("*") if ".part" in p.name]


def tables(root) -> dict[str, str]:
    """SHA-256 of every table of a run; logs and provenance hold paths and times by design."""
    results = root / "results"
    return {
        str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(results.rglob("*.tsv"))
        if not {"logs", "provenance"} & set(p.relative_to(results).parts)
    }


@pytest.mark.parametrize(
    "target, rule",
    [
        ("results/rnaseq/expression/rpkm.tsv", "rnaseq_expression"),  # a table, through write_tsv
        ("results/rnaseq/correlation/pearson_log2.png", "rnaseq_correlation"),  # a figure, through save_figure
        ("results/imaging/cells/S8.h5ad", "imaging_cells"),  # an AnnData a script writes itself
    ],
    ids=["table", "figure", "h5ad"],
)
def test_a_job_killed_mid_write_leaves_nothing_complete_and_the_rerun_equals_an_uninterrupted_run(tmp_path, demo_run, target, rule):
    root = write_project(tmp_path, tiny_config())
    name = target.rsplit("/", 1)[1]
    killed = snakemake(root, target, env=killed_at(name))
    log = killed.stdout + killed.stderr
    assert killed.returncode != 0 and f"Error in rule {rule}" in log, log[-3000:]
    assert not (root / target).exists()
    assert any(name in t for t in temporaries(root)), temporaries(root)  # the kill came mid-write

    rerun = snakemake(root, target)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert temporaries(root) == []
    if name.endswith(".h5ad"):
        again, reference = ad.read_h5ad(root / target), ad.read_h5ad(demo_run / target)
        pd.testing.assert_frame_equal(again.obs, reference.obs)
        assert sorted(again.obsm) == sorted(reference.obsm) and len(again.obs) > 0
        for key in reference.obsm:
            np.testing.assert_array_equal(again.obsm[key], reference.obsm[key])
    else:
        assert (root / target).read_bytes() == (demo_run / target).read_bytes()
