"""Cohorts of real labelled crops, the validation study's real-cell arm: crops tiled into fields with masks
whose tool their files name, reference donors of whole plates with a label channel, lots at known
fractions from plates no reference donor holds, and a plan the deployed workflow accepts."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import tifffile
from skimage import io

from morphopotency.imaging.segmented_by import mask_tool
from morphopotency.simulate.crops import (
    MASK_TOOL,
    STAIN,
    crop_mask,
    donors_of_plates,
    draw,
    read_crops,
    separability,
    split_plates,
    write_cohort,
)
from tests.conftest import REPO, SHARED_DATA, needs_shared


def _disc(radius: float, size: int = 32, elongation: float = 1.0) -> np.ndarray:
    rows, cols = np.mgrid[:size, :size] - size / 2
    inside = (rows / elongation) ** 2 + cols**2 <= radius**2
    return np.where(inside, 180, 20).astype(np.uint8)


@pytest.fixture()
def crop_folder(tmp_path):
    """Round (positive) and long (negative) cells on eight plates, each plate holding both."""
    rng = np.random.default_rng(0)
    for name, elongation in (("Round", 1.0), ("Long", 2.2)):
        (tmp_path / name).mkdir()
        for plate in range(8):
            for k in range(int(rng.integers(6, 12))):
                image = _disc(float(rng.uniform(5, 7)), elongation=elongation)
                io.imsave(tmp_path / name / f"PL{plate:02d}_{k}--x.png", image, check_contrast=False)
    return tmp_path


def test_the_crops_and_their_plates_are_read_by_class(crop_folder):
    crops = read_crops(crop_folder, ["Round"], ["Long"])
    assert set(crops["label"]) == {0, 1} and set(crops["plate"]) == {f"PL{p:02d}" for p in range(8)}
    assert (crops.loc[crops["class_name"] == "Round", "label"] == 1).all()
    with pytest.raises(ValueError, match="no crops of class 'Oval'"):
        read_crops(crop_folder, ["Round"], ["Oval"])
    with pytest.raises(ValueError, match="class\\(es\\) Round named both ways"):
        read_crops(crop_folder, ["Round"], ["Round"])


def test_a_crops_mask_is_its_central_object_with_holes_filled():
    image = _disc(6).astype(float)
    image[16, 16] = 20  # a hole
    image[:20, :8] = 200  # a neighbour cut by the crop's edge, larger than the cell
    image[30, 30] = 200  # a speck
    mask = crop_mask(image)
    assert mask[16, 16] and not mask[1, 1] and not mask[30, 30]
    assert mask.sum() == pytest.approx(np.pi * 36, rel=0.15)
    assert crop_mask(np.zeros((8, 8))) is None


def test_plates_split_between_reference_and_lots_and_donors_hold_both_classes(crop_folder):
    crops = read_crops(crop_folder, ["Round"], ["Long"])
    rng = np.random.default_rng(3)
    reference, lots = split_plates(crops, 0.5, rng)
    assert set(reference).isdisjoint(lots) and set(reference) | set(lots) == set(crops["plate"])
    share = crops[crops["plate"].isin(reference)].groupby("label").size() / crops.groupby("label").size()
    assert share.between(0.3, 0.8).all()
    donors = donors_of_plates(crops[crops["plate"].isin(reference)], 2, rng)
    assert sorted(p for d in donors for p in d) == reference
    for plates in donors:
        assert set(crops.loc[crops["plate"].isin(plates), "label"]) == {0, 1}
    lot = draw(crops[crops["plate"].isin(lots)], 0.25, 12, rng)
    assert len(lot) == 12 and lot["label"].sum() == 3 and not lot["file"].duplicated().any()
    # A lot sampled from a donor: its positives binomial, on average the fraction.
    sampled = [
        draw(crops, 0.25, 12, np.random.default_rng(s), binomial=True)["label"].sum() for s in range(200)
    ]
    assert len(set(sampled)) > 3 and np.mean(sampled) == pytest.approx(3, abs=0.3)


def test_a_cohort_is_written_as_a_lab_brings_it(crop_folder, tmp_path):
    crops = read_crops(crop_folder, ["Round"], ["Long"])
    donors = {"R01": crops.iloc[:40], "L01": crops.iloc[40:60]}
    write_cohort(tmp_path / "data", donors, ["R01"], seed=1, grid=4, blur={"L01": 2.0})
    fields = sorted((tmp_path / "data/images/R01").glob("*.ome.tif"))
    assert [f.name for f in fields] == [
        f"R01_field{i:02d}.ome.tif" for i in (1, 2, 3)
    ]  # 40 crops, 16 a field
    image = tifffile.imread(fields[0])
    labels = tifffile.imread(tmp_path / "data/masks/R01/R01_field01.tif")
    truth = pd.read_csv(tmp_path / "data/truth/R01.tsv", sep="\t")
    assert image.shape == (2, 128, 128) and labels.shape == (128, 128) and labels.max() == 16
    assert mask_tool([tmp_path / "data/masks/R01/R01_field01.tif"]) == MASK_TOOL
    first = truth[truth["image"] == "R01_field01"].set_index("cell_id")
    for cell, row in first.iterrows():  # the label channel stains each cell by its class
        stain = image[1][labels == cell].mean() / 257
        assert abs(stain - STAIN[int(row["label"])]) < 10
    assert tifffile.imread(tmp_path / "data/images/L01/L01_field01.ome.tif").ndim == 2  # no label channel
    assert len(pd.read_csv(tmp_path / "data/truth/L01.tsv", sep="\t")) == 20
    # Written again from the same crops, a donor is left alone; from others, it is written anew.
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "data").rglob("*.tif")}
    write_cohort(tmp_path / "data", {**donors, "L01": crops.iloc[60:80]}, ["R01"], seed=1, grid=4)
    changed = {p for p, t in before.items() if p.stat().st_mtime_ns != t}
    assert changed and all(p.parent.name == "L01" for p in changed)


def test_a_real_cohort_is_planned_by_the_deployed_workflow(crop_folder, tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "bench"))
    from score_study import REAL_DRIFTS, real_cohort_plan

    from morphopotency.plan import build

    crops = read_crops(crop_folder, ["Round"], ["Long"])
    config, rows, drawn = real_cohort_plan(0, 3, 7, crops, tmp_path / "data", lot_cells=12)
    reference = [r.split("\t")[0] for r in rows if r.endswith("reference")]
    lots = [r.split("\t")[0] for r in rows if r.endswith("score")]
    assert len(reference) == 5 and lots == ["L01", "L02", "L03", *REAL_DRIFTS]
    assert set(config["imaging"]["masks"]) == set(reference) | set(lots) - {"W1"}  # W1: the watershed's
    truth = {d: pd.read_csv(tmp_path / f"data/truth/{d}.tsv", sep="\t") for d in reference + lots}
    reference_plates = set(pd.concat([truth[d] for d in reference])["plate"])
    assert all(set(truth[lot]["plate"]).isdisjoint(reference_plates) for lot in lots)
    assert drawn["L01"] < drawn["L02"] < drawn["L03"]
    (tmp_path / "config").mkdir()
    header = "sample\tdonor\tcondition\trnaseq_column\timages\trole\n"
    (tmp_path / "config/samples.tsv").write_text(header + "\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    plan = build(config | {"samples": "config/samples.tsv"}, REPO)
    assert plan.reference_donors == tuple(reference) and plan.score_donors == tuple(sorted(lots))
    assert plan.segmentation("R01") == {"kind": "masks", "tool": ""}  # the files' tag names the tool
    assert plan.segmentation("W1") == {"kind": "watershed", "tool": ""}
    assert any(n.startswith("lot W1 will be held: segmented by the workflow's watershed") for n in plan.notes)


@needs_shared
def test_the_development_set_gives_a_real_cohort_with_enough_cells():
    """The classes the published real arm pools: moderately separable, each lot of the plates the
    reference does not hold, with the cells the study's lots need."""
    crops = read_crops(
        SHARED_DATA / "mitocheck_dev", ["Prometaphase", "SmallIrregular"], ["MetaphaseAlignment", "Apoptosis"]
    )
    rng = np.random.default_rng([7, 1000])
    reference, lots = split_plates(crops, 0.5, rng)
    pool = crops[crops["plate"].isin(lots)]
    assert pool.groupby("label").size().min() >= 114  # a lot of 120 at 0.95 either way
    donors = donors_of_plates(crops[crops["plate"].isin(reference)], 5, rng)
    sizes = [len(crops[crops["plate"].isin(d)]) for d in donors]
    assert min(sizes) >= 50 and all(set(crops.loc[crops["plate"].isin(d), "label"]) == {0, 1} for d in donors)


def test_the_separability_of_the_groups_is_measured_by_shape_alone(crop_folder):
    crops = read_crops(crop_folder, ["Round"], ["Long"])
    measured = separability(crops)
    assert measured["crops"] == len(crops) and measured["positive"] == int(crops["label"].sum())
    assert measured["balanced_accuracy"] > 0.95 and measured["roc_auc"] > 0.95  # round against long
