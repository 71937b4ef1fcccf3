"""Native microscope formats read through their own libraries (oiffile, bioio plugins) into the same
planes, channel names and µm pixel size as the same pixels in an OME-TIFF."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from morphopotency.imaging.formats import BIOIO_PLUGINS, is_native
from morphopotency.imaging.io import Channels, ImageError, read_image
from morphopotency.samples import expand_images, image_id
from morphopotency.simulate import write_ome_tiff
from tests.format_files import write_oif, write_ome_zarr

NAMES = ["CD105", "SSEA3", "DAPI"]


@pytest.fixture()
def pixels():
    return np.random.default_rng(0).integers(0, 4000, size=(3, 48, 64), dtype=np.uint16)


def _same(image, other):
    for role in ("shape", "label", "nuclei"):
        np.testing.assert_array_equal(getattr(image, role), getattr(other, role))
    assert image.pixel_size_um == pytest.approx(other.pixel_size_um)
    assert image.channel_names == other.channel_names and image.max_value == other.max_value


def test_oif_and_ome_zarr_read_as_the_same_pixels_in_ome_tiff(tmp_path, pixels):
    write_ome_tiff(tmp_path / "a.ome.tif", pixels, tuple(NAMES), 0.8, "test")
    reference = read_image(tmp_path / "a.ome.tif")
    oif = read_image(write_oif(tmp_path / "a.oif", pixels, NAMES, 800, unit="nm"))  # FV1000 files in nm
    zarr = read_image(write_ome_zarr(tmp_path / "a.ome.zarr", pixels, NAMES, 0.8))
    _same(oif, reference)
    _same(zarr, reference)
    assert oif.pixel_size_um == pytest.approx(0.8) and zarr.pixel_size_um == pytest.approx(0.8)


def test_units_of_native_files_become_micrometres(tmp_path, pixels):
    assert read_image(write_oif(tmp_path / "um.oif", pixels, NAMES, 0.8)).pixel_size_um == pytest.approx(0.8)
    nm = write_ome_zarr(tmp_path / "nm.ome.zarr", pixels, NAMES, 800.0, unit="nanometer")
    assert read_image(nm).pixel_size_um == pytest.approx(0.8)


def test_an_oif_z_stack_is_max_projected_and_channels_found_by_name(tmp_path, pixels):
    stack = np.stack([pixels, pixels // 2], axis=1)  # (C, Z, Y, X)
    image = read_image(write_oif(tmp_path / "z.oif", stack, NAMES, 0.5), Channels(shape="ssea3", label=0))
    np.testing.assert_array_equal(image.shape, pixels[1])
    np.testing.assert_array_equal(image.label, pixels[0])


def test_a_missing_reader_names_the_extra_to_install(tmp_path, pixels, monkeypatch):
    path = write_oif(tmp_path / "a.oif", pixels, NAMES, 0.5)
    monkeypatch.setitem(sys.modules, "oiffile", None)  # as if not installed: importing it raises
    with pytest.raises(
        ImageError,
        match=r"a.oif: reading Olympus OIB/OIF files needs the oiffile package: "
        r"pip install 'morphopotency\[olympus\]'",
    ):
        read_image(path)


@pytest.mark.parametrize("suffix", [".nd2", ".czi", ".lif"])
def test_formats_without_a_writer_here_fail_by_name(tmp_path, suffix):
    """No library here writes ND2, CZI or LIF: a damaged file, or a missing plugin, is named either way."""
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"not an image")
    module, extra, _ = BIOIO_PLUGINS[suffix]
    with pytest.raises(
        ImageError, match=rf"broken\{suffix}: (cannot read the image|.*morphopotency\[{extra}\])"
    ):
        read_image(path)


def test_discovery_and_ids_take_the_native_suffixes(tmp_path, pixels):
    write_oif(tmp_path / "f1.oif", pixels, NAMES, 0.5)
    write_ome_zarr(tmp_path / "f2.ome.zarr", pixels, NAMES, 0.5)
    (tmp_path / "f3.nd2").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    found = expand_images(str(tmp_path))
    assert [p.name for p in found] == ["f1.oif", "f2.ome.zarr", "f3.nd2"]  # not the .oif.files folder
    assert [image_id(p) for p in found] == ["f1", "f2", "f3"]
    assert all(is_native(p) for p in found)
    assert [p.name for p in expand_images(str(tmp_path / "*.zarr"))] == ["f2.ome.zarr"]
