"""Image ingest: channel mapping, z-stacks, bit depth, user masks, and errors naming the file."""

from pathlib import Path

import numpy as np
import pytest
import tifffile

from morphopotency.imaging.io import Channels, ImageError, read_image, read_mask
from morphopotency.simulate import write_ome_tiff


@pytest.fixture()
def ome(tmp_path):
    data = np.stack([np.full((32, 40), v, np.uint16) for v in (100, 200, 300)])
    path = tmp_path / "a.ome.tif"
    write_ome_tiff(path, data, ("CD105", "SSEA3", "DAPI"), 0.5, "test")
    return path


def test_channels_by_name_and_index(ome):
    image = read_image(ome, Channels(shape="cd105", label=1, nuclei="DAPI"))
    assert (image.shape.mean(), image.label.mean(), image.nuclei.mean()) == (100, 200, 300)
    assert (
        image.max_value == 65535
        and image.pixel_size_um == 0.5
        and image.channel_names == ["CD105", "SSEA3", "DAPI"]
    )
    assert read_image(ome, Channels(label=None, nuclei=None)).label is None


def test_missing_channel_names_file_and_channels(ome):
    with pytest.raises(
        ImageError,
        match=r"a.ome.tif: no channel named 'GFP' for 'label'; channels are \['CD105', 'SSEA3', 'DAPI'\]",
    ):
        read_image(ome, Channels(label="GFP"))
    with pytest.raises(ImageError, match=r"channel index 5 for 'nuclei' is out of range \(the image has 3"):
        read_image(ome, Channels(nuclei=5))


def test_an_optional_channel_is_read_when_imaged(ome, tmp_path):
    assert read_image(ome, Channels(optional=("label",))).label.mean() == 200
    two = tmp_path / "no_ssea3.ome.tif"
    write_ome_tiff(two, np.stack([np.full((32, 40), 5, np.uint16)] * 2), ("CD105", "DAPI"), 0.5, "t")
    assert read_image(two, Channels(optional=("label",))).label is None
    with pytest.raises(ImageError, match="no channel named 'SSEA3' for 'label'"):
        read_image(two, Channels())


def test_two_channel_image_has_too_few_channels(tmp_path):
    path = tmp_path / "two.tif"
    tifffile.imwrite(
        path, np.zeros((2, 32, 32), np.uint16), metadata={"axes": "CYX"}, photometric="minisblack"
    )
    with pytest.raises(
        ImageError, match=r"two.tif: channel index 2 for 'nuclei' is out of range \(the image has 2"
    ):
        read_image(path, Channels(shape=0, label=1, nuclei=2))


def test_z_stack_is_max_projected_or_refused(tmp_path):
    stack = np.zeros((3, 4, 16, 16), np.uint8)  # C, Z, Y, X
    stack[0, 2] = 9
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, stack, metadata={"axes": "CZYX"}, photometric="minisblack")
    image = read_image(path, Channels(shape=0, label=1, nuclei=2))
    assert image.shape.max() == 9 and image.max_value == 255
    with pytest.raises(ImageError, match=r"z.tif: a z-stack \(4 planes\) but imaging.z_projection is 'none'"):
        read_image(path, Channels(shape=0, label=1, nuclei=2), z_projection="none")


def test_bit_depth_sets_full_scale(ome):
    assert read_image(ome, bit_depth=12).max_value == 4095


@pytest.mark.parametrize(
    ("writer", "message"),
    [
        (lambda p: p.write_bytes(b"not a tiff at all" * 10), "cannot read the image"),
        (lambda p: p.write_bytes(tifffile_bytes()[:300]), "cannot read the image"),
        (lambda p: tifffile.imwrite(p, np.zeros((1, 1), np.uint16)), "too small to segment"),
        (
            lambda p: tifffile.imwrite(
                p,
                np.zeros((2, 3, 4, 16, 16), np.uint16),
                metadata={"axes": "CZTYX"},
                photometric="minisblack",
            ),
            None,
        ),
    ],
)
def test_unreadable_or_wrong_images_name_the_file(tmp_path, writer, message):
    path = tmp_path / "bad.tif"
    writer(path)
    if message is None:  # a time series: the first time point is taken, which must still be readable
        read_image(path, Channels(shape=0, label=1, nuclei=None))
        return
    with pytest.raises(ImageError, match=message) as err:
        read_image(path, Channels(shape=0, label=None, nuclei=None))
    assert "bad.tif" in str(err.value)


def tifffile_bytes():
    import io

    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        np.random.default_rng(0).integers(0, 60000, (3, 64, 64), dtype=np.uint16),
        metadata={"axes": "CYX"},
        photometric="minisblack",
    )
    return buffer.getvalue()


def test_user_masks_keep_their_labels(tmp_path):
    mask = np.zeros((20, 20), np.uint32)
    mask[2:8, 2:8] = 7
    mask[2:8, 8:14] = 300  # touching, told apart by label value only
    path = tmp_path / "m.tif"
    tifffile.imwrite(path, mask)
    read = read_mask(path, (20, 20))
    assert set(np.unique(read)) == {0, 7, 300}
    with pytest.raises(ImageError, match="differs from its image"):
        read_mask(path, (21, 20))
    tifffile.imwrite(path, mask.astype(np.float32))
    with pytest.raises(ImageError, match="integer labels"):
        read_mask(path, (20, 20))


def test_one_file_per_channel(tmp_path):
    from morphopotency.samples import images_by_donor

    for channel, value in (("CD105", 10), ("SSEA3", 20), ("DAPI", 30)):
        tifffile.imwrite(tmp_path / f"field1_{channel}.tif", np.full((16, 16), value, np.uint16))
    sheet = (
        __import__("pandas")
        .DataFrame(
            [
                {
                    "sample": "S1",
                    "donor": "S1",
                    "condition": "stem",
                    "rnaseq_column": "",
                    "images": str(tmp_path),
                }
            ]
        )
        .set_index("sample", drop=False)
    )
    images = images_by_donor(sheet, channel_pattern=r"_(?P<channel>CD105|SSEA3|DAPI)")
    assert list(images["S1"]) == ["field1"] and set(images["S1"]["field1"]) == {"CD105", "SSEA3", "DAPI"}
    image = read_image(images["S1"]["field1"], Channels())
    assert (image.shape.max(), image.label.max(), image.nuclei.max()) == (10, 20, 30)
    tifffile.imwrite(tmp_path / "field1_DAPI.tif", np.zeros((8, 8), np.uint16))
    with pytest.raises(ImageError, match="differ in size"):
        read_image(images["S1"]["field1"], Channels())


def test_wrong_rank_is_named(tmp_path):
    path = tmp_path / "line.tif"
    tifffile.imwrite(
        path,
        np.arange(64, dtype=np.uint16)[None, None, :, None].repeat(3, axis=3),
        photometric="minisblack",
        metadata={"axes": "ZQXC"},
    )
    with pytest.raises(ImageError) as err:
        read_image(path, Channels(shape=0, label=None, nuclei=None))
    assert "line.tif" in str(err.value) and "expected a 2-D image with channels" in str(err.value)


def test_crops_fit_each_cell_or_keep_relative_size_in_a_window():
    from morphopotency.imaging.cells import crop_cells

    yy, xx = np.mgrid[:200, :200]
    labels = np.zeros((200, 200), dtype=np.int32)
    labels[(yy - 50) ** 2 + (xx - 50) ** 2 < 10**2] = 1  # small disc
    labels[(yy - 140) ** 2 + (xx - 140) ** 2 < 30**2] = 2  # large disc
    shape = np.where(labels > 0, 1000.0, 0.0)
    fitted = crop_cells(shape, labels, np.array([1, 2]), 64, 1000.0)
    windowed = crop_cells(shape, labels, np.array([1, 2]), 64, 1000.0, window=80)
    filled = lambda crops: (crops > 127).mean(axis=(1, 2))  # noqa: E731
    assert filled(fitted)[0] == pytest.approx(filled(fitted)[1], abs=0.08)  # both fill their crop: size lost
    assert filled(windowed)[1] / filled(windowed)[0] == pytest.approx(
        9.0, rel=0.15
    )  # area ratio (30/10)^2 kept


def test_shape_channel_alone_is_enough_to_measure_cells(ome):
    """label: null, nuclei: null (the README allows it): one intensity column, no KeyError."""
    from morphopotency.imaging.cells import measure_cells

    image = read_image(ome, Channels(shape="CD105", label=None, nuclei=None))
    labels = np.zeros((32, 40), int)
    labels[4:12, 5:20], labels[20:28, 22:30] = 1, 2
    cells = measure_cells(image, labels, "S1", "a")
    assert list(cells["cell_id"]) == [1, 2]
    assert "shape_mean" in cells and "label_mean" not in cells and "nuclei_mean" not in cells
    both = measure_cells(read_image(ome, Channels()), labels, "S1", "a")
    np.testing.assert_array_equal(cells["shape_mean"], both["shape_mean"])
    assert (both["label_mean"] > both["shape_mean"]).all()


def _ringed_cell(tmp_path):
    """A 7 x 7 cell stained at 100 (8-bit) over its inner 5 x 5 and at 10 on its outermost ring: an outline
    one pixel past the stain. Its inner half (distance to the outline at least the median, 2) is the
    5 x 5; the whole cell's mean is (25 x 100 + 24 x 10) / 49."""
    labels = np.zeros((16, 16), np.int32)
    labels[4:11, 4:11] = 1
    ssea3 = np.where(labels == 1, 10 * 257, 0).astype(np.uint16)
    ssea3[5:10, 5:10] = 100 * 257
    shape = np.where(labels == 1, 30000, 100).astype(np.uint16)
    path = tmp_path / "ring.ome.tif"
    write_ome_tiff(path, np.stack([shape, ssea3, shape]), ("CD105", "SSEA3", "DAPI"), 0.5, "test")
    return path, labels


def test_a_cells_ssea3_over_its_inner_half_is_not_diluted_by_an_outline_past_the_stain(tmp_path):
    from morphopotency.imaging.cells import measure_cells, ssea3_means

    path, labels = _ringed_cell(tmp_path)
    image = read_image(path, Channels())
    inner, whole = ssea3_means(labels, image.label, "inner"), ssea3_means(labels, image.label, "whole")
    assert inner.to_dict() == {1: pytest.approx(100 * 257)}
    assert whole.to_dict() == {1: pytest.approx((25 * 100 + 24 * 10) / 49 * 257)}
    cells = measure_cells(image, labels, "S1", "a")
    assert cells["label_inner_mean"].tolist() == pytest.approx([100 * 257])
    assert cells["label_mean"].tolist() == pytest.approx(whole.tolist())
    with pytest.raises(ValueError, match="SSEA3 region 'rim': expected one of whole, inner"):
        ssea3_means(labels, image.label, "rim")


def test_the_configured_region_is_what_labels_a_cell(tmp_path):
    """imaging.ssea3_region: the inner half reads this cell at 100, above the paper's 90; the whole cell
    (config/paper.yaml) at 55.9, below it."""
    from morphopotency.imaging.donor import donor_cells

    path, labels = _ringed_cell(tmp_path)
    mask = tmp_path / "ring_mask.tif"
    tifffile.imwrite(mask, labels)
    images = {"a": (path, mask)}
    inner, _ = donor_cells("S1", images, Channels(), crop_size=16, n_points=12, ssea3_region="inner")
    whole, _ = donor_cells("S1", images, Channels(), crop_size=16, n_points=12)
    assert inner.obs["ssea3_8bit"].tolist() == pytest.approx([100.0])
    assert whole.obs["ssea3_8bit"].tolist() == pytest.approx([(25 * 100 + 24 * 10) / 49])


def test_pixel_size_units_are_converted_to_micrometres(tmp_path):
    data = np.stack([np.full((32, 40), v, np.uint16) for v in (100, 200, 300)])
    for name, size, unit in (("nm", 500.0, "nm"), ("um", 0.5, "µm"), ("default", 0.5, None)):
        meta = {
            "axes": "CYX",
            "PhysicalSizeX": size,
            "PhysicalSizeY": size,
            "Channel": {"Name": ["CD105", "SSEA3", "DAPI"]},
        }
        if unit:
            meta |= {"PhysicalSizeXUnit": unit, "PhysicalSizeYUnit": unit}
        tifffile.imwrite(tmp_path / f"{name}.ome.tif", data, ome=True, metadata=meta)
        assert read_image(tmp_path / f"{name}.ome.tif").pixel_size_um == pytest.approx(0.5), name
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={"axes": "CYX", "unit": "micron"},
    )
    assert read_image(
        tmp_path / "ij.tif", Channels(shape=0, label=1, nuclei=2)
    ).pixel_size_um == pytest.approx(0.5)
    tifffile.imwrite(tmp_path / "px.tif", data, imagej=True, metadata={"axes": "CYX", "unit": "pixel"})
    assert read_image(tmp_path / "px.tif", Channels(shape=0, label=1, nuclei=2)).pixel_size_um is None


def test_a_multi_scene_file_is_refused_with_its_scenes(tmp_path):
    path = tmp_path / "plate.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tif:
        for scene in ("A1", "A2"):
            tif.write(np.zeros((3, 16, 16), np.uint16), metadata={"axes": "CYX", "Name": scene})
    with pytest.raises(ImageError, match=r"plate.ome.tif: holds 2 scenes \(A1, A2\)"):
        read_image(path)


def test_masks_from_cellpose_stardist_and_cellprofiler(tmp_path):
    from skimage import io as skio

    labels = np.zeros((20, 30), np.uint16)
    labels[2:8, 2:8], labels[10:18, 5:25] = 1, 300  # a label above 255 needs 16 bits
    skio.imsave(tmp_path / "f_cp_masks.png", labels, check_contrast=False)  # cellpose --save_png
    tifffile.imwrite(tmp_path / "f_masks.tif", labels)  # cellpose --save_tif, StarDist, QuPath
    for name in ("f_cp_masks.png", "f_masks.tif"):
        assert np.array_equal(read_mask(tmp_path / name, (20, 30)), labels)
    wrapped = np.zeros((20, 30), np.uint8)
    wrapped[2:8, 2:8], wrapped[10:18, 5:25] = 44, 44  # label 300 stored in 8 bits as 44: two objects
    skio.imsave(tmp_path / "wrapped.png", wrapped, check_contrast=False)
    with pytest.raises(ImageError, match="8-bit labels, some of which cover several separate objects"):
        read_mask(tmp_path / "wrapped.png", (20, 30))
    with pytest.raises(ImageError, match="pickled objects and is not loaded"):
        read_mask(tmp_path / "f_seg.npy", (20, 30))
    skio.imsave(tmp_path / "rgb.png", np.zeros((20, 30, 3), np.uint8), check_contrast=False)
    with pytest.raises(ImageError, match="one 2-D label image"):
        read_mask(tmp_path / "rgb.png", (20, 30))
    with pytest.raises(ImageError, match=r"mask shape \(20, 30\) differs from its image \(20, 31\)"):
        read_mask(tmp_path / "f_cp_masks.png", (20, 31))


def test_edge_weights_undo_the_border_sampling_by_hand():
    """A 2 x 4 box in a 10 x 10 field lies wholly inside for 8 x 6 of its 100 positions: weight 100 / 48;
    a cell cut by the border has an unknown extent and counts once."""
    from morphopotency.imaging.cells import measure_cells
    from morphopotency.imaging.io import Image

    labels = np.zeros((10, 10), np.int32)
    labels[3:5, 2:6] = 1
    labels[7:10, 8:10] = 2  # touches the bottom and right edges
    image = Image(path=Path("a.tif"), shape=np.ones((10, 10)), max_value=255.0)
    cells = measure_cells(image, labels, "S1", "a")
    assert cells["edge_weight"].tolist() == pytest.approx([100 / 48, 1.0])
