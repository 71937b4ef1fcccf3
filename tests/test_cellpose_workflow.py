"""imaging.segmenter: cellpose end to end, on a Cellpose model the test trains (tests/cellpose_model.py):
the tiny CNN cohort segmented by it, trained, bundled with the model, and its new lot scored; then a lab's
scoring run in another folder segments with the bundle's model (the same labels, whatever its own config
says), and flags a lot that brings its own masks."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import tifffile

from morphopotency.imaging.metrics import match_f1
from morphopotency.imaging.segment import tidy_labels
from morphopotency.provenance import sha256
from morphopotency.score.bundle import CELLPOSE_MODEL, load
from tests.cellpose_model import train_demo_model
from tests.workflow_helpers import cnn_config, snakemake, write_cnn_project, write_project

pytestmark = pytest.mark.workflow
pytest.importorskip("cellpose", reason="the cellpose extra is missing (make setup installs it)")


@pytest.fixture(scope="module")
def cellpose_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cellpose")
    config = cnn_config()
    config["demo"]["fields_per_donor"] = (
        2  # Cellpose keeps fewer of the tiny fields' cells than the watershed
    )
    model = train_demo_model(base / "models" / "demo_cells.pth", config["demo"])
    config["imaging"] = {**config["imaging"], "segmenter": "cellpose", "cellpose": {"model": str(model)}}
    root = write_cnn_project(base / "reference", config)
    result = snakemake(root)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return root, model


def test_cellpose_segments_the_cohort_and_the_bundle_carries_its_model(cellpose_run):
    root, model = cellpose_run
    assert "cells (Cellpose)" in (root / "results/logs/imaging/segment_S1_S1_field01.log").read_text()
    # The model finds the planted cells that the size and border rules keep, matched at IoU 0.5 over every
    # field of the cohort (Cellpose handed the wrong channel or diameter finds few of them).
    tp = fp = fn = 0
    for labels in sorted((root / "results/imaging/segmentation").glob("*/*.tif")):
        planted = root / f"results/demo/truth/masks/{labels.parent.name}/{labels.stem}.ome.tif"
        _, t, f, n = match_f1(tidy_labels(tifffile.imread(planted).astype(np.int32)), tifffile.imread(labels))
        tp, fp, fn = tp + t, fp + f, fn + n
    assert 2 * tp / (2 * tp + fp + fn) > 0.6, (tp, fp, fn)
    bundle = load(root / "results/model")
    cellpose = bundle.settings["imaging"]["cellpose"]
    assert bundle.settings["imaging"]["segmenter"] == "cellpose" and cellpose["source_model"] == str(model)
    assert sha256(bundle.path(CELLPOSE_MODEL)) == sha256(model) == cellpose["model_sha256"]
    scores = pd.read_csv(root / "results/score/donor_scores.tsv", sep="\t")
    # A fraction in [0, 1], or none where this machine's tiny CNNs did not separate the classes on their
    # unseen donors (training noise differs between CPUs): then no cell count reaches an interval and the
    # verdict says there is no estimate, or holds the lot where it is flagged anyway (N1 is blurred).
    assert list(scores["donor"]) == ["N1"]
    row = scores.iloc[0]
    said = row["verdict"].startswith(("no estimate: ", "hold: flagged"))
    assert 0 <= row["fraction"] <= 1 or (np.isnan(row["fraction"]) and row["cells_for_pm005"] == -1 and said)


def test_a_lab_scores_with_the_bundles_model_and_own_masks_are_flagged(cellpose_run, tmp_path):
    reference, _ = cellpose_run
    bundle = tmp_path / "bundles" / "cellpose-ref"
    shutil.copytree(reference / "results/model", bundle)
    images = reference / "results/demo/images"
    truth = reference / "results/demo/truth/masks"
    config = {
        "samples": "config/samples.tsv",
        "score": {"bundle": str(bundle), "bootstrap": 100},
        # The lab's own config says watershed: the bundle's segmenter wins; S1 brings its own masks.
        "imaging": {
            "segmenter": "watershed",
            "channels": {"shape": "CD105", "label": None, "nuclei": "DAPI"},
            "masks": {"S1": f"{truth}/{{donor}}/{{image}}.ome.tif"},
        },
    }
    root = write_project(tmp_path / "lab", config, [f"{d}\t{d}\tstem\t\t{images}/{d}" for d in ("N1", "S1")])
    run = snakemake(root)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert sha256(root / "results/imaging/cellpose/model.pth") == sha256(bundle / CELLPOSE_MODEL)
    for labels in sorted((reference / "results/imaging/segmentation/N1").glob("*.tif")):
        again = root / "results/imaging/segmentation/N1" / labels.name
        assert np.array_equal(tifffile.imread(labels), tifffile.imread(again))
    assert not (root / "results/imaging/segmentation/S1").exists()  # its own masks: nothing segmented
    scores = pd.read_csv(root / "results/score/donor_scores.tsv", sep="\t", keep_default_na=False)
    flags = dict(zip(scores["donor"], scores["flags"]))
    assert "segmented by the lab's own masks (tool not stated), the reference by Cellpose" in flags["S1"]
    assert "segmented by" not in flags["N1"]
    assert scores.set_index("donor").loc["S1", "verdict"].startswith("hold: flagged")
    html = (root / "results/report/score_report.html").read_text()
    assert "The reference cells were segmented by Cellpose, model" in html
