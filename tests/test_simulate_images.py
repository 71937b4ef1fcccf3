"""The demo images hold the planted properties, in formats tifffile reads as a user's would."""

import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy import ndimage as ndi
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from morphopotency.simulate import planned_image_files, write_donor
from morphopotency.simulate.images import CHANNELS, SHAPE_PROBS, shape_class_ceiling, simulate_donor

FRACTIONS = {"S1": 0.40, "S5": 0.45, "S7": 0.35, "S8": 0.72, "S9": 0.66}


@pytest.fixture(scope="module")
def cohort():
    """Measured per-cell values for a small five-donor cohort (3 fields of 384 px each)."""
    rows = []
    fields = {}
    for donor, fraction in FRACTIONS.items():
        for name, field in simulate_donor(11, donor, 3, 384, 24, fraction):
            fields[name] = field
            ids = field.cells["cell_id"].to_numpy()
            ssea3 = ndi.mean(field.image[1].astype(float), field.labels, ids) / 257.0
            dapi_area = ndi.sum(field.image[2] > np.percentile(field.image[2], 99) * 0.4, field.labels, ids)
            table = field.cells.assign(donor=donor, image=name, ssea3_measured=ssea3, dapi_area=dapi_area)
            rows.append(table)
    return pd.concat(rows, ignore_index=True), fields


def test_donor_fractions_are_planted_exactly_and_s8_s9_highest(cohort):
    cells, _ = cohort
    realised = cells.groupby("donor")["multipotent"].mean()
    for donor, fraction in FRACTIONS.items():
        assert abs(realised[donor] - fraction) < 0.05, donor
    assert set(realised.sort_values().index[-2:]) == {"S8", "S9"}


def test_multipotent_cells_are_rounder_and_brighter_but_overlap(cohort):
    cells, _ = cohort
    multi, other = cells[cells["multipotent"]], cells[~cells["multipotent"]]
    assert (multi["shape_class"] == "round").mean() > (other["shape_class"] == "round").mean() + 0.3
    assert multi["ssea3_measured"].median() > 90 > other["ssea3_measured"].median()
    # Overlap in shape, so predicting multipotency from shape is not trivial: many multipotent cells are
    # not round and some non-multipotent cells are.
    assert (multi["shape_class"] != "round").mean() > 0.25
    assert (other["shape_class"] == "round").mean() > 0.08
    assert set(cells["shape_class"]) == {"round", "elongated", "irregular"}


def test_shape_class_ceiling_by_hand_and_by_sampling():
    # By hand: round > irregular > elongated in likelihood ratio; AUC = P(pos outranks neg) + ties / 2.
    ceiling = shape_class_ceiling()
    assert ceiling["roc_auc"] == pytest.approx(
        0.75 * 0.90 + 0.17 * 0.60 + 0.5 * (0.75 * 0.10 + 0.17 * 0.30 + 0.08 * 0.60)
    )
    assert ceiling["balanced_accuracy"] == pytest.approx(0.5 * (0.75 + 0.90))
    # An oracle that knows each cell's class reaches it on 20 000 cells drawn as the simulator draws them.
    rng = np.random.default_rng(0)
    truth = rng.random(20_000) < 0.5
    drawn = np.array([rng.choice(3, p=SHAPE_PROBS[bool(t)]) for t in truth])
    ratio = np.asarray(SHAPE_PROBS[True]) / np.asarray(SHAPE_PROBS[False])
    assert roc_auc_score(truth, ratio[drawn]) == pytest.approx(ceiling["roc_auc"], abs=0.01)
    assert balanced_accuracy_score(truth, ratio[drawn] > 1) == pytest.approx(
        ceiling["balanced_accuracy"], abs=0.01
    )


def test_every_cell_has_a_nucleus_and_some_cells_touch(cohort):
    cells, fields = cohort
    assert (cells["dapi_area"] > 10).mean() > 0.95
    touching = 0
    for field in fields.values():
        grown = ndi.grey_dilation(field.labels, size=3)
        touching += int(((grown != field.labels) & (field.labels > 0) & (grown > 0)).any())
    assert touching >= len(fields) // 3


def test_images_have_background_offset_vignetting_and_noise(cohort):
    _, fields = cohort
    field = next(iter(fields.values()))
    background = field.image[0][field.labels == 0].astype(float)
    assert background.min() > 0  # offset: no clipped zeros
    assert background.std() > 100  # noise in 16-bit units
    corner = background[: len(background) // 20].mean()
    assert field.image.dtype == np.uint16 and field.image.shape == (3, 384, 384)
    assert corner > 0


def test_files_are_ome_tiff_with_channel_names_and_deterministic(tmp_path):
    for run in ("a", "b"):
        write_donor(
            5,
            "S8",
            2,
            160,
            6,
            0.7,
            tmp_path / run / "img",
            tmp_path / run / "mask",
            tmp_path / run / "truth.tsv",
        )
    planned = planned_image_files(tmp_path / "a" / "img", "S8", 2)
    assert sorted(p.name for p in (tmp_path / "a" / "img").iterdir()) == [p.name for p in planned]
    for path in planned:
        twin = tmp_path / "b" / "img" / path.name
        assert path.read_bytes() == twin.read_bytes()
        with tifffile.TiffFile(path) as tif:
            assert tif.is_ome
            assert tif.series[0].axes == "CYX"
            data = tif.asarray()
            assert "CD105" in tif.ome_metadata and 'PhysicalSizeX="0.8"' in tif.ome_metadata
        assert data.shape == (3, 160, 160) and data.dtype == np.uint16
    truth = pd.read_csv(tmp_path / "a" / "truth.tsv", sep="\t")
    assert list(truth.columns[:3]) == ["donor", "image", "cell_id"]
    masks = tifffile.imread(tmp_path / "a" / "mask" / planned[0].name)
    assert set(np.unique(masks)) - {0} == set(truth.loc[truth["image"] == planned[0].name[:-8], "cell_id"])
    assert CHANNELS == ("CD105", "SSEA3", "DAPI")


def test_other_seed_gives_other_images():
    a = simulate_donor(1, "S1", 1, 128, 4, 0.5)[0][1].image
    b = simulate_donor(2, "S1", 1, 128, 4, 0.5)[0][1].image
    assert not np.array_equal(a, b)


def test_a_donor_to_score_is_imaged_without_ssea3_and_can_be_out_of_focus(tmp_path):
    from morphopotency.imaging.quality import focus

    common = (5, "N3", 1, 160, 6, 0.5)
    sharp = write_donor(*common, tmp_path / "a", tmp_path / "am", tmp_path / "a.tsv", ("CD105", "DAPI"))
    blurred = write_donor(
        *common, tmp_path / "b", tmp_path / "bm", tmp_path / "b.tsv", ("CD105", "DAPI"), blur=3.0
    )
    with tifffile.TiffFile(tmp_path / "a" / "N3_field01.ome.tif") as tif:
        assert tif.series[0].shape == (2, 160, 160) and "SSEA3" not in tif.ome_metadata
    pd.testing.assert_frame_equal(sharp, blurred)  # the same cells, seen through worse optics
    a, b = (tifffile.imread(tmp_path / f / "N3_field01.ome.tif")[0] for f in ("a", "b"))
    assert focus(b) < 0.85 * focus(a)
    with pytest.raises(ValueError, match="GFP"):
        write_donor(*common, tmp_path / "c", tmp_path / "cm", tmp_path / "c.tsv", ("GFP",))
