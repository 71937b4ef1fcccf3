"""What segmented a donor's cells is recorded with them and in the bundle, and a lot cut otherwise than its
reference is held, in either direction: the lab's masks against the workflow's segmenter, the segmenter
against a reference built from masks, or masks another tool drew. Masks of the same kind are not held."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tifffile
import yaml

from morphopotency.config import load_schema, with_defaults
from morphopotency.imaging.segmented_by import (
    Segmentation,
    annotate,
    by_donor,
    mask_tool,
    mismatch,
    of_cells,
    planned,
    resolved,
)
from morphopotency.score.bundle import export, load, preprocessing_settings
from tests.conftest import REPO

WATERSHED = Segmentation("watershed")
CELLPROFILER = Segmentation("masks", "CellProfiler 4.2.6")
UNNAMED = Segmentation("masks")


def _cells(donor: str, segmentation: Segmentation, n: int = 3) -> pd.DataFrame:
    return annotate(
        pd.DataFrame({"donor": [donor] * n, "image": ["f1"] * n, "cell_id": range(1, n + 1)}), segmentation
    )


def _bundle(tmp_path, reference_cells: pd.DataFrame):
    """A bundle whose settings record what cut ``reference_cells``, as rule model_bundle writes it."""
    config = with_defaults(
        yaml.safe_load((REPO / "config/config.yaml").read_text()),
        load_schema(REPO / "workflow/schemas/config.schema.yaml"),
    )
    meta = {"spec": {"backbone": "resnet18"}, "threshold": 0.5}
    settings = preprocessing_settings(config, meta, segmented_by=by_donor(reference_cells))
    export(tmp_path / "model", {}, settings, {"reference/cells.tsv": reference_cells}, {"commit": None})
    return load(tmp_path / "model")


@pytest.mark.parametrize(
    ("reference", "lot", "held"),
    [
        (WATERSHED, WATERSHED, False),
        (WATERSHED, CELLPROFILER, True),  # the lab's masks against the workflow's segmenter
        (CELLPROFILER, WATERSHED, True),  # the segmenter against a reference built from masks
        (CELLPROFILER, Segmentation("masks", "cellprofiler v4.2.1"), False),  # same tool, another version
        (CELLPROFILER, Segmentation("masks", "QuPath 0.5"), True),  # masks another tool drew
        (CELLPROFILER, UNNAMED, False),  # a lab that names no tool is not held for it
        (UNNAMED, UNNAMED, False),
        (Segmentation("cellpose", "cyto3"), Segmentation("cellpose", "cellpose_model.pth"), False),
        (Segmentation("cellpose", "cyto3"), UNNAMED, True),
    ],
)
def test_a_lot_is_held_only_when_cut_otherwise_than_its_reference(tmp_path, reference, lot, held):
    bundle = _bundle(tmp_path, pd.concat([_cells("R1", reference), _cells("R2", reference)]))
    assert bundle.reference_segmentations() == [reference]
    why = mismatch(of_cells(_cells("L1", lot)), bundle.reference_segmentations())
    assert (why is not None) == held
    if held:
        assert why == f"segmented by {lot.describe()}, the reference by {reference.describe()}"


def test_a_mixed_reference_accepts_either_of_its_kinds_and_names_its_donors(tmp_path):
    reference = pd.concat([_cells("R1", WATERSHED), _cells("R2", CELLPROFILER)])
    bundle = _bundle(tmp_path, reference)
    assert bundle.settings["imaging"]["segmented_by"] == [
        {"kind": "watershed", "tool": "", "donors": ["R1"]},
        {"kind": "masks", "tool": "CellProfiler 4.2.6", "donors": ["R2"]},
    ]
    assert mismatch([WATERSHED], bundle.reference_segmentations()) is None
    assert mismatch([CELLPROFILER], bundle.reference_segmentations()) is None
    assert mismatch([Segmentation("masks", "QuPath")], bundle.reference_segmentations())
    assert bundle.segmenter_label() == (
        "the workflow's watershed (donors R1); the lab's own masks (CellProfiler 4.2.6) (donors R2)"
    )


def test_a_lot_table_without_the_record_is_held_and_a_bundle_without_one_compares_nothing():
    assert mismatch([], [WATERSHED]).startswith("how the lot was segmented is not recorded")
    assert mismatch([CELLPROFILER], []) is None
    assert of_cells(pd.DataFrame({"donor": ["L1"]})) == []


def test_the_record_survives_a_tsv_round_trip_with_an_empty_tool(tmp_path):
    path = tmp_path / "cells.tsv"
    pd.concat([_cells("L1", WATERSHED), _cells("L2", CELLPROFILER)]).to_csv(path, sep="\t", index=False)
    assert of_cells(pd.read_csv(path, sep="\t")) == [WATERSHED, CELLPROFILER]


def test_the_mask_files_name_their_tool_unless_a_writer_library_wrote_the_tag(tmp_path):
    labels = np.zeros((8, 8), np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", labels, software="CellProfiler 4.2.6")
    tifffile.imwrite(tmp_path / "b.tif", labels)  # tifffile's own name: says nothing of the tool
    (tmp_path / "c.png").write_bytes(b"")  # no tag to read, and not opened
    assert mask_tool([tmp_path / "b.tif"]) == ""
    assert mask_tool([tmp_path / f for f in ("a.tif", "b.tif", "c.png", "a.tif")]) == "CellProfiler 4.2.6"
    assert resolved(UNNAMED, [tmp_path / "a.tif"]) == CELLPROFILER
    assert resolved(Segmentation("masks", "QuPath"), [tmp_path / "a.tif"]).tool == "QuPath"  # the config wins
    assert resolved(WATERSHED, [tmp_path / "a.tif"]) == WATERSHED


def test_the_plan_names_what_cuts_each_donor():
    cellpose = {"model": "models/our_msc.pth"}
    assert planned("S1", "watershed", cellpose, None, "CellProfiler") == WATERSHED
    assert planned("S1", "cellpose", cellpose, None, None) == Segmentation("cellpose", "our_msc.pth")
    # A scoring run's Cellpose model is the bundle's file; the model the reference named is source_model.
    scoring = {"model": "/b/segmentation/cellpose_model.pth", "source_model": "cyto3"}
    assert planned("S1", "cellpose", scoring, None, None) == Segmentation("cellpose", "cyto3")
    assert planned("S1", "watershed", cellpose, "m/{donor}/{image}.tif", "QuPath") == Segmentation(
        "masks", "QuPath"
    )
    tools = {"S1": "CellProfiler 4.2.6"}
    assert planned("S1", "watershed", cellpose, "m/{image}.tif", tools) == CELLPROFILER
    assert planned("S2", "watershed", cellpose, "m/{image}.tif", tools) == UNNAMED
    with pytest.raises(ValueError, match="unknown segmentation 'stardist'"):
        Segmentation("stardist")
