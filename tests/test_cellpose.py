"""Cellpose as the segmenter (imaging.segmenter: cellpose), without the network: models are files the tests
make, a built-in name is found in the model folder Cellpose reads (CELLPOSE_LOCAL_MODELS_PATH), the
bundle carries the reference's model and a scoring run segments with it, refusing another."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from morphopotency.config import ConfigError
from morphopotency.imaging.learned import (
    INSTALL,
    CellposeParams,
    SegmenterUnavailable,
    cellpose_models,
    check_model,
    fetch_model,
    is_model_file,
    segment_cellpose,
)
from morphopotency.imaging.segment import SegmentationParams
from morphopotency.provenance import sha256
from tests.conftest import REPO

cellpose = pytest.importorskip(
    "cellpose", reason="the cellpose extra is not installed (make setup installs it)"
)


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """A Cellpose 3 model file with the built-in architecture and random weights: loads as any model does."""
    import torch
    from cellpose import models

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("cellpose") / "untrained.pth"
    models.CellposeModel(gpu=False, pretrained_model=False, diam_mean=17.0).net.save_model(str(path))
    return path


def test_a_model_is_a_file_or_a_builtin_name():
    assert not is_model_file("cyto3") and not is_model_file("nuclei")
    assert is_model_file("models/mine") and is_model_file("mine.pth") and is_model_file("/abs/cyto3")


def test_a_file_is_copied_and_checked(untrained, tmp_path):
    copy = fetch_model(str(untrained), tmp_path / "out" / "model.pth")
    assert copy.read_bytes() == untrained.read_bytes()
    assert check_model(copy, sha256(untrained)) == sha256(untrained) == check_model(copy, None)
    with pytest.raises(SegmenterUnavailable, match="bundle's reference was segmented with 0{64}"):
        check_model(copy, "0" * 64)
    with pytest.raises(SegmenterUnavailable, match="imaging.cellpose.model: file not found: .*nothing.pth"):
        fetch_model(str(tmp_path / "nothing.pth"), tmp_path / "m.pth")
    with pytest.raises(SegmenterUnavailable, match="neither a file nor one of Cellpose's built-in .*cyto3"):
        fetch_model("cyto9", tmp_path / "m.pth")
    assert not (tmp_path / "m.pth").exists()


def test_a_builtin_name_is_read_from_cellposes_model_folder(untrained, tmp_path):
    """Cellpose looks in CELLPOSE_LOCAL_MODELS_PATH (read when it is imported: a process of its own) and
    downloads only what is not there; here the file is, so nothing is fetched."""
    folder = tmp_path / "cellpose_models"
    folder.mkdir()
    (folder / "cyto3").write_bytes(untrained.read_bytes())
    dest = tmp_path / "model.pth"
    code = f"from morphopotency.imaging.learned import fetch_model; fetch_model('cyto3', {str(dest)!r})"
    env = os.environ | {"CELLPOSE_LOCAL_MODELS_PATH": str(folder)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert dest.read_bytes() == untrained.read_bytes()


def test_a_missing_install_names_the_extra(monkeypatch):
    from morphopotency.plan import segmenter_notes

    assert segmenter_notes({"segmenter": "cellpose"}) == () == segmenter_notes({"segmenter": "watershed"})
    monkeypatch.setitem(sys.modules, "cellpose", None)  # import cellpose now raises ImportError
    with pytest.raises(SegmenterUnavailable, match="needs Cellpose 3.1, which is not installed") as caught:
        cellpose_models()
    assert INSTALL in str(caught.value) and "make setup" in INSTALL
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    (note,) = segmenter_notes({"segmenter": "cellpose"})
    assert "Cellpose is not installed in this environment" in note and INSTALL in note


def test_labels_come_tidied_in_the_image_shape(untrained):
    """Whatever the (untrained) model finds goes through the watershed's size and border rules."""
    rng = np.random.default_rng(1)
    shape = rng.normal(100, 5, (96, 112))
    shape[30:60, 40:70] += 400
    labels = segment_cellpose(shape, None, untrained, CellposeParams(gpu=False), SegmentationParams())
    assert labels.shape == shape.shape and labels.dtype == np.int32
    areas = np.bincount(labels.ravel())[1:]
    assert (areas[areas > 0] >= SegmentationParams().min_area).all()
    with_nuclei = segment_cellpose(shape, shape.copy(), untrained, CellposeParams(diameter=20.0, gpu=False))
    assert with_nuclei.shape == shape.shape


def _bundle_settings(config, sha):
    from morphopotency.score.bundle import preprocessing_settings

    return preprocessing_settings(config, {"spec": {}, "threshold": 0.5}, cellpose_sha256=sha)


def test_the_bundle_records_the_segmenter_and_a_scoring_run_segments_with_its_model(
    untrained, tmp_path, monkeypatch
):
    """A reference segmented by Cellpose ships its model; a scoring run is planned with that file and the
    checksum its model rule verifies, whatever the lab's config says about segmenters."""
    from morphopotency.plan import build
    from morphopotency.score.bundle import CELLPOSE_MODEL, export, load
    from tests.workflow_helpers import TEST_CONFIG, tiny_config

    reference = tiny_config()
    reference["imaging"] = {"segmenter": "cellpose", "cellpose": {"model": str(untrained), "diameter": 18}}
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "samples.tsv").write_text((TEST_CONFIG / "samples.tsv").read_text())
    built = build(reference, REPO).config
    assert built["imaging"]["segmenter"] == "cellpose"
    settings = _bundle_settings(built, sha256(untrained))
    bundle = tmp_path / "bundle"
    export(bundle, {CELLPOSE_MODEL: untrained}, settings, {}, {"config_sha256": "x", "commit": None})
    loaded = load(bundle)
    cellpose_settings = loaded.settings["imaging"]["cellpose"]
    assert cellpose_settings["source_model"] == str(untrained) and cellpose_settings["diameter"] == 18
    assert loaded.segmenter_label().startswith(
        f"Cellpose, model {untrained} (SHA-256 {sha256(untrained)[:12]}"
    )
    lab = tiny_config(score={"bundle": str(bundle)})
    lab["imaging"] = {"segmenter": "watershed"}
    scoring = build(lab, REPO)
    imaging = scoring.config["imaging"]
    assert imaging["segmenter"] == "cellpose" and imaging["cellpose"]["model"] == str(bundle / CELLPOSE_MODEL)
    assert imaging["cellpose"]["model_sha256"] == sha256(untrained)
    assert scoring.cellpose_model_input() == [str(bundle / CELLPOSE_MODEL)]
    # A watershed reference keeps its segmenter, and records no model.
    plain = _bundle_settings(build(tiny_config(), REPO).config, None)["imaging"]
    assert plain["segmenter"] == "watershed" and "model_sha256" not in plain["cellpose"]


def test_a_missing_model_file_stops_the_plan(tmp_path, monkeypatch):
    from morphopotency.plan import build
    from tests.workflow_helpers import TEST_CONFIG, tiny_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "samples.tsv").write_text((TEST_CONFIG / "samples.tsv").read_text())
    config = tiny_config()
    config["imaging"] = {"segmenter": "cellpose", "cellpose": {"model": "models/lab.pth"}}
    with pytest.raises(ConfigError, match="imaging.cellpose.model: file not found: models/lab.pth"):
        build(config, REPO)
    config["imaging"]["cellpose"]["model"] = "cyto3"  # a built-in: checked when fetched
    assert build(config, REPO).cellpose_model_input() == []
