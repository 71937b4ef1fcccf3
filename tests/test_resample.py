"""Images brought to a common pixel size (imaging.resample_um): cells keep their physical size, labels stay
labels, an image already at the target is left untouched, and one of unknown pixel size is refused."""

import numpy as np
import pandas as pd
import pytest
import tifffile

from morphopotency.imaging.donor import donor_cells
from morphopotency.imaging.io import Channels, Image, ImageError, read_image, read_mask
from morphopotency.imaging.resample import labels_to_shape, to_pixel_size, zoom_factor
from morphopotency.simulate import write_donor
from morphopotency.simulate.images import PIXEL_SIZE_UM


def _disc_image(pixel_um: float, radius_um: float = 12.0, side_um: float = 96.0) -> Image:
    side = int(round(side_um / pixel_um))
    yy, xx = np.mgrid[0:side, 0:side] * pixel_um
    disc = ((yy - side_um / 2) ** 2 + (xx - side_um / 2) ** 2 < radius_um**2).astype(np.float32) * 1000
    return Image(path="disc.tif", shape=disc, nuclei=disc / 2, pixel_size_um=pixel_um)


def test_a_cell_keeps_its_physical_size():
    fine = to_pixel_size(_disc_image(0.6), 0.8)
    assert fine.shape.shape == (120, 120) and fine.nuclei.shape == (120, 120)
    assert fine.pixel_size_um == 0.8 and fine.shape.dtype == np.float32
    # area in um^2 of the half-intensity region: pi * 12^2 = 452
    area = (fine.shape > 500).sum() * 0.8**2
    assert area == pytest.approx(np.pi * 12**2, rel=0.05)
    coarse = to_pixel_size(_disc_image(1.0), 0.8)
    assert coarse.shape.shape == (120, 120)
    assert (coarse.shape > 500).sum() * 0.8**2 == pytest.approx(np.pi * 12**2, rel=0.05)
    assert fine.label is None  # an absent channel stays absent


def test_an_image_at_the_target_is_left_as_it_is():
    image = _disc_image(0.8)
    assert to_pixel_size(image, None) is image
    near = to_pixel_size(image, 0.805)  # within 1 %: metadata rounding, not another objective
    assert near.shape is image.shape and zoom_factor(0.8, 0.805) is None
    assert zoom_factor(0.6, 0.8) == pytest.approx(0.75)


def test_an_image_of_unknown_pixel_size_is_refused_or_takes_the_configured_one():
    image = _disc_image(0.6)
    image.pixel_size_um = None
    with pytest.raises(ImageError, match=r"disc.tif: no pixel size .* imaging.pixel_size_um .* 0.8 um"):
        to_pixel_size(image, 0.8)
    assert to_pixel_size(image, 0.8, fallback_um=0.6).shape.shape == (120, 120)


def test_labels_stay_labels():
    labels = np.zeros((160, 160), np.uint16)
    labels[10:60, 10:60], labels[60:120, 70:150] = 3, 7
    small = labels_to_shape(labels, (120, 120))
    assert small.dtype == np.uint16 and set(np.unique(small)) == {0, 3, 7}
    assert (small == 3).sum() == pytest.approx(50 * 50 * 0.75**2, rel=0.05)
    assert labels_to_shape(labels, (160, 160)) is labels


def test_a_lab_mask_drawn_on_the_stored_image_is_resampled_with_it(tmp_path):
    mask = np.zeros((160, 160), np.uint16)
    mask[20:80, 20:80] = 5
    tifffile.imwrite(tmp_path / "m.tif", mask)
    drawn = read_mask(tmp_path / "m.tif", (120, 120), (160, 160))
    assert labels_to_shape(drawn, (120, 120)).shape == (120, 120)
    assert read_mask(tmp_path / "m.tif", (160, 160)).shape == (160, 160)
    with pytest.raises(
        ImageError, match=r"m.tif: mask shape \(160, 160\) differs from its image \(200, 200\)"
    ):
        read_mask(tmp_path / "m.tif", (150, 150), (200, 200))


def test_a_lot_imaged_at_another_pixel_size_measures_like_the_reference(tmp_path):
    """The simulator's lot at 0.6 um (cells a third wider in pixels) and at the reference's 0.8 um, each
    measured from its planted masks: resampled to 0.8 um, its cells' areas match the reference's; as it
    is, they are 1.78 times larger."""
    areas = {}
    for pixel, target in ((PIXEL_SIZE_UM, None), (0.6, None), (0.6, PIXEL_SIZE_UM)):
        folder = tmp_path / f"{pixel}-{target}"
        write_donor(
            3, "N3", 2, 256, 10, 0.5, folder / "img", folder / "mask", folder / "t.tsv", pixel_size_um=pixel
        )
        files = sorted((folder / "img").glob("*.ome.tif"))
        assert read_image(files[0]).pixel_size_um == pytest.approx(pixel)
        images = {f.name: (f, folder / "mask" / f.name) for f in files}
        adata, crops = donor_cells("N3", images, Channels(label=None), resample_um=target)
        obs = adata.obs
        assert len(crops) == len(obs) > 10
        assert obs["imaged_pixel_size_um"].eq(pixel).all()
        assert obs["pixel_size_um"].eq(target or pixel).all()
        areas[(pixel, target)] = float(np.median(obs["area"]))
    reference = areas[(PIXEL_SIZE_UM, None)]
    assert areas[(0.6, None)] / reference == pytest.approx((0.8 / 0.6) ** 2, rel=0.2)
    assert areas[(0.6, PIXEL_SIZE_UM)] / reference == pytest.approx(1.0, rel=0.15)


def test_the_simulator_keeps_cells_and_field_in_micrometres(tmp_path):
    wide = write_donor(
        5, "N3", 1, 240, 8, 0.5, tmp_path / "a", tmp_path / "am", tmp_path / "a.tsv", pixel_size_um=0.6
    )
    image = tifffile.imread(tmp_path / "a" / "N3_field01.ome.tif")
    assert image.shape[1:] == (320, 320)
    assert isinstance(wide, pd.DataFrame) and len(wide) > 0
    with tifffile.TiffFile(tmp_path / "a" / "N3_field01.ome.tif") as tif:
        assert 'PhysicalSizeX="0.6"' in tif.ome_metadata
