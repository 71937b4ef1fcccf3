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
import re
import signal

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import REPO
from tests.workflow_helpers import cnn_config, snakemake, write_cnn_project

pytestmark = pytest.mark.workflow

HOOK = REPO / "tests" / "kill_hook"


def killed_at(*kills: tuple[str, int], group: bool = False) -> dict[str, str]:
    """Environment for a run whose job processes die just before their ``nth`` atomic rename onto ``name``;
    with ``group`` Snakemake dies with them."""
    path = os.pathsep.join(filter(None, [str(HOOK), os.environ.get("PYTHONPATH")]))
    return {
        "PYTHONPATH": path,
        "MORPHOPOTENCY_TEST_KILL": json.dumps([{"name": n, "nth": k, "group": group} for n, k in kills]),
    }


def temporaries(root) -> list[str]:
    return [str(p.relative_to(root)) for p in (root / "results").rglob("*") if ".part" in p.name]


def checksums(root, suffix: str) -> dict[str, str]:
    """SHA-256 of every ``suffix`` file of a run; logs and provenance hold paths and times by design."""
    results = root / "results"
    return {
        str(p.relative_to(results)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(results.rglob(f"*{suffix}"))
        if not {"logs", "provenance"} & set(p.relative_to(results).parts)
    }


@pytest.fixture(scope="module")
def clean(cnn_run):
    """The tiny demo with every stage on, run once uninterrupted (shared with the scoring tests)."""
    return cnn_run


def scheduled(root, config: dict) -> set[str]:
    """The rules a dry run of the finished run schedules once the config is changed to ``config``."""
    write_cnn_project(root, config)
    try:
        run = snakemake(root, "--dry-run")
    finally:
        write_cnn_project(root, cnn_config())
    assert run.returncode == 0, run.stderr[-3000:]
    return set(re.findall(r"^(?:local)?rule (\w+):$", run.stdout + run.stderr, flags=re.M)) - {"all"}


TRAINING = {"cnn_fold", "cnn_lr_search", "cnn_final", "cnn_lodo"}


def changed(section: str, key: str, value) -> dict:
    config = cnn_config()
    config.setdefault(section, {})[key] = value
    return config


def test_a_finished_run_schedules_nothing(clean):
    assert scheduled(clean, cnn_config()) == set()


@pytest.mark.parametrize(
    "section, key, value, expected",
    [
        ("cnn", "bootstrap", 500, {"cnn_comparison", "cnn_donors"}),
        ("report", "round_circularity", 0.7, {"report_donor_summary"}),
        ("report", "cnn_fraction", "final", {"report_donor_summary"}),
    ],
)
def test_a_downstream_key_reruns_no_training_job(clean, section, key, value, expected):
    """Only the config keys a rule uses reach it: a summary setting re-runs summaries, never training."""
    jobs = scheduled(clean, changed(section, key, value))
    assert expected <= jobs and not (TRAINING & jobs), sorted(jobs)


def test_lr_search_keys_rerun_the_search_and_final_model_but_no_fold(clean):
    config = cnn_config()
    config["cnn"]["lr_search"] = {**config["cnn"]["lr_search"], "trials": 3}
    jobs = scheduled(clean, config)
    assert {"cnn_lr_search", "cnn_final"} <= jobs and "cnn_fold" not in jobs, sorted(jobs)


def test_a_training_key_retrains_the_folds(clean):
    config = cnn_config()
    config["cnn"]["epochs"] = 5
    assert TRAINING <= scheduled(clean, config)


def test_killed_jobs_rerun_and_resume_to_the_bytes_of_an_uninterrupted_run(clean, tmp_path):
    """One uninterrupted run, and one run killed three times before it may finish. Every table and figure of
    the two must be identical: reproducibility from a clean ``results/`` and exact resumption at once;
    the fold's log must show it resumed rather than started over."""
    config = cnn_config()

    root = write_cnn_project(tmp_path / "killed", config)
    # Each wave kills only outputs its run must write, whatever order the scheduler picks.
    # Wave 1: the node is lost while the RPKM table is written. Snakemake dies with the job, so no one
    # removes anything: only the write-then-rename keeps a half table from looking complete.
    lost = snakemake(
        root, "results/rnaseq/expression/rpkm.tsv", env=killed_at(("rpkm.tsv", 1), group=True), session=True
    )
    assert lost.returncode == -signal.SIGKILL, (lost.stdout + lost.stderr)[-3000:]
    assert not (root / "results/rnaseq/expression/rpkm.tsv").exists()
    assert any("rpkm.tsv" in t for t in temporaries(root)), temporaries(root)
    assert snakemake(root, "--unlock").returncode == 0  # Snakemake's own lock outlives it, as after any crash
    # Waves 2 and 3: single jobs killed (out of memory) while Snakemake goes on with the rest
    # (--keep-going): an AnnData and a figure; then, as it needs every donor's cells, a CNN fold just
    # before its third epoch checkpoint. The job that was running when Snakemake died is re-run
    # (rerun-incomplete in profiles/default); without that, wave 2 would stop at once.
    waves = [
        (
            [("S8.h5ad", 1), ("pearson_log2.png", 1)],
            ["imaging_cells", "rnaseq_correlation"],
            ["imaging/cells/S8.h5ad", "rnaseq/correlation/pearson_log2.png"],
        ),
        (
            [("cv_resnet18_fold0.pt", 3)],
            ["cnn_fold"],
            ["cnn/cv/resnet18/fold0/predictions.tsv", "cnn/cv/resnet18/fold0/history.tsv"],
        ),
    ]
    for kills, rules, outputs in waves:
        run = snakemake(root, "--keep-going", env=killed_at(*kills))
        log = run.stdout + run.stderr
        assert run.returncode != 0 and all(f"Error in rule {rule}" in log for rule in rules), log[-4000:]
        assert all(any(name in t for t in temporaries(root)) for name, _ in kills), temporaries(
            root
        )  # killed mid-write
        assert [o for o in outputs if (root / "results" / o).exists()] == []
    checkpoint = torch.load(root / "results/cnn/checkpoints/cv_resnet18_fold0.pt", weights_only=True)
    assert json.loads(checkpoint["state"])["epoch"] == 2

    rerun = snakemake(root)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert temporaries(root) == []
    assert (
        "resumed from results/cnn/checkpoints/cv_resnet18_fold0.pt after epoch 2"
        in (root / "results/logs/cnn/cv_resnet18_fold0.log").read_text()
    )
    history = pd.read_csv(root / "results/cnn/cv/resnet18/fold0/history.tsv", sep="\t")
    assert history["epoch"].tolist() == [1, 2, 3, 4]

    for suffix, at_least in ((".tsv", 30), (".png", 15)):
        reference, again = checksums(clean, suffix), checksums(root, suffix)
        assert len(reference) > at_least and sorted(again) == sorted(reference), suffix
        assert [f for f in reference if again[f] != reference[f]] == []
    cells, reference = (
        ad.read_h5ad(root / "results/imaging/cells/S8.h5ad"),
        ad.read_h5ad(clean / "results/imaging/cells/S8.h5ad"),
    )
    pd.testing.assert_frame_equal(cells.obs, reference.obs)
    assert sorted(cells.obsm) == sorted(reference.obsm) and len(cells.obs) > 0
    for key in reference.obsm:
        np.testing.assert_array_equal(cells.obsm[key], reference.obsm[key])


def test_the_training_run_exports_a_verified_model_bundle(clean):
    """results/model: the final CNN, the shape model, settings, reference cells and provenance, loadable
    from a copy in another folder; a changed byte there is refused by name."""
    import shutil

    from morphopotency.score.bundle import BundleError, load

    copy = clean.parent / "elsewhere" / "bundle"
    shutil.copytree(clean / "results/model", copy)
    bundle = load(copy)
    final = json.loads((clean / "results/cnn/final/model.json").read_text())
    assert bundle.settings["cnn"]["threshold"] == final["threshold"]
    assert bundle.settings["imaging"]["channels"]["shape"] == "CD105"
    cells = bundle.table("reference/cells.tsv")
    assert len(cells) == len(pd.read_csv(clean / "results/cnn/data/cells.tsv", sep="\t"))
    assert cells["prob"].between(0, 1).all() and set(cells["label"]) == {0, 1}
    assert set(cells["final_role"]) == {"train", "val", "test"} and cells["final_prob"].between(0, 1).all()
    assert bundle.provenance["config"]["cnn"]["epochs"] == 4
    assert (copy / "shape_modes/model.npz").read_bytes() == (
        clean / "results/imaging/shape_modes/model.npz"
    ).read_bytes()
    (copy / "settings.json").write_text((copy / "settings.json").read_text().replace("CD105", "CD106"))
    with pytest.raises(BundleError, match="settings.json: changed since export"):
        load(copy)
