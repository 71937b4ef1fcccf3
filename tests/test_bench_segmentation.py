"""bench/segmentation_seg.py: its pooled measures and its cross-validation worked by hand (a split's
parameters never see its held-out frames), the annotated-folder layouts it reads, and a lab's own frames
measured end to end."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from morphopotency.simulate.images import simulate_donor
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from segmentation_seg import (  # noqa: E402
    DEFAULTS,
    config_lines,
    cross_validate,
    frame_pairs,
    main,
    read_frames,
    summary,
)


def _row(set_: str, frame: str, seg: float, tp: int, fp: int = 0, fn: int = 0, cells: int = 2) -> dict:
    return {
        "set": set_,
        "frame": frame,
        "seconds": 1.0,
        "megapixels": 0.5,
        "seg_sum": seg * cells,
        "cells": cells,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "splits": 0,
        "merges": 0,
    }


def test_measures_are_pooled_over_cells_and_objects_not_averaged_over_frames():
    rows = pd.DataFrame([_row("s", "a", 1.0, 2, cells=2), _row("s", "b", 0.25, 1, fp=1, fn=3, cells=4)])
    rows.loc[1, ["splits", "merges"]] = [1, 2]
    out = summary(rows)
    assert out["SEG"] == pytest.approx((2.0 + 1.0) / 6)  # not the frames' mean, (1 + 0.25) / 2
    assert out["F1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 3))
    assert (out["objects"], out["splits"], out["merges"]) == (4, 1, 2)
    assert out["split_share"] == pytest.approx(1 / 6) and out["s_per_MP"] == pytest.approx(2.0)


def _cv_table(held_out_seg: dict[str, float] | None = None) -> pd.DataFrame:
    """Four frames; 'grid a' is perfect on a1 and a2 and poor elsewhere, 'grid b' middling everywhere."""
    seg = {("grid a", "a1"): 1.0, ("grid a", "a2"): 1.0, ("grid a", "b1"): 0.0, ("grid a", "b2"): 0.0}
    seg |= {("grid b", f): 0.6 for f in ("a1", "a2", "b1", "b2")}
    seg |= {("defaults", f): 0.1 for f in ("a1", "a2", "b1", "b2")}
    seg |= held_out_seg or {}
    return pd.DataFrame(
        [_row(s, f, v, tp=2 if v >= 0.5 else 0, fn=0 if v >= 0.5 else 2) for (s, f), v in seg.items()]
        + [_row("sweep x", f, 1.0, 2) for f in ("a1", "a2", "b1", "b2")]  # never a candidate
    )


def test_each_split_is_chosen_on_the_other_frames_and_every_frame_is_scored_once():
    """Splits of 2: held out (a1, b1) chooses on a2 + b2, where a (SEG 0.5, F1 2/3: 0.58) loses to b (SEG
    0.6, F1 1: 0.8); held out (a2, b2) likewise. So every frame is scored by b: SEG 0.6, F1 1. Chosen on
    every frame of the changed table below, a would win (0.80 against 0.65)."""
    splits, pooled = cross_validate(_cv_table(), folds=2)
    assert splits["test frames"].tolist() == ["a1,b1", "a2,b2"]
    assert splits["chosen"].tolist() == ["grid b", "grid b"]
    assert pooled["SEG"] == pytest.approx(0.6) and pooled["F1"] == 1.0 and pooled["objects"] == 8
    # Making the held-out frames anything at all changes no choice: they are never looked at.
    changed = _cv_table({("grid a", "b1"): 1.0, ("grid b", "a1"): 0.0, ("defaults", "b1"): 1.0})
    assert cross_validate(changed, folds=2)[0]["chosen"].tolist()[0] == "grid b"


def test_chosen_parameters_are_printed_as_the_config_keys_that_differ():
    assert config_lines(vars(DEFAULTS)) == ["imaging.segmentation: the defaults"]  # drop_border is bench-only
    lines = config_lines(vars(DEFAULTS) | {"seed_h": 5.0, "background_size": 151})
    expected = {"seed_h": 5.0, "background_size": 151}
    assert yaml.safe_load("\n".join(lines)) == {"imaging": {"segmentation": expected}}


def _write(path, array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, array)


def test_both_folder_layouts_are_read_and_a_mask_without_its_image_is_named(tmp_path):
    frame, mask = np.ones((8, 8), np.uint16), np.zeros((8, 8), np.uint16)
    _write(tmp_path / "lab/images/t001.tif", frame)  # CTC names under images/ and masks/
    _write(tmp_path / "lab/masks/man_seg001.tif", mask)
    _write(tmp_path / "lab/images/field2.tif", frame)  # the same name in both
    _write(tmp_path / "lab/masks/field2.tif", mask)
    _write(tmp_path / "lab/images/field3.ome.tif", frame)  # the workflow's own image format
    _write(tmp_path / "lab/masks/field3.ome.tif", mask)
    _write(tmp_path / "lab/images/unannotated.tif", frame)  # frames without a mask are not measured
    assert [(f, i.name, m.name) for f, i, m in frame_pairs(tmp_path / "lab")] == [
        ("field2", "field2.tif", "field2.tif"),
        ("field3", "field3.ome.tif", "field3.ome.tif"),
        ("t001", "t001.tif", "man_seg001.tif"),
    ]
    _write(tmp_path / "ctc/02/t000.tif", frame)  # a Cell Tracking Challenge sequence as downloaded
    _write(tmp_path / "ctc/02/t001.tif", frame)
    _write(tmp_path / "ctc/02_GT/SEG/man_seg001.tif", mask)
    assert [f for f, _, _ in frame_pairs(tmp_path / "ctc/02")] == ["t001"]
    _write(tmp_path / "lab/masks/man_seg007.tif", mask)
    with pytest.raises(SystemExit, match=r"man_seg007.tif: no image for this mask .* t007"):
        frame_pairs(tmp_path / "lab")
    with pytest.raises(SystemExit, match=r"plain: no annotated frames found"):
        frame_pairs(tmp_path / "plain")


def test_a_frame_that_is_not_one_plane_of_its_masks_size_is_refused_by_name(tmp_path):
    _write(tmp_path / "lab/images/a.tif", np.ones((2, 8, 8), np.uint16))
    _write(tmp_path / "lab/masks/a.tif", np.zeros((8, 8), np.uint16))
    with pytest.raises(SystemExit, match=r"a.tif: image \(2, 8, 8\) and mask \(8, 8\)"):
        read_frames(tmp_path / "lab")


def test_a_labs_own_frames_are_measured_cross_validated_and_given_parameters(tmp_path, capsys):
    """Two simulated fields with their planted cells as the annotation, the shipped sources left out."""
    for name, field in simulate_donor(3, "S8", 2, 320, 10, 0.5):
        _write(tmp_path / "ours/images" / f"{name}.tif", field.image[0])
        _write(tmp_path / "ours/masks" / f"{name}.tif", field.labels)
    main(["--frames", str(tmp_path / "ours"), "--no-shipped", "--workers", "1", "--folds", "2"])
    out = capsys.readouterr().out
    assert "=== ours: 2 frames, 20 annotated cells ===" in out
    assert "Frame-level cross-validation (2 splits" in out and "pooled over held-out frames: SEG " in out
    assert "Chosen on every frame of ours (" in out and "ctc_msc_01" not in out
    defaults = next(line for line in out.splitlines() if line.startswith("defaults "))
    assert float(defaults.split()[1]) > 0.5  # SEG of the defaults on cells they find (test_segmentation)
    with pytest.raises(SystemExit):
        main(["--frames", str(tmp_path / "ours"), "--no-shipped", "--also", "seed_hh=3"])
    assert "--also: seed_hh not among" in capsys.readouterr().err
