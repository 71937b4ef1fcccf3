"""Microscope files of the native formats, written the way the instruments' software lays them out, for
the reader tests: an Olympus OIF (UTF-16 main settings file plus its ``.oif.files`` TIFF folder, the
layout oiffile reads) and an OME-Zarr (written with bioio-ome-zarr's own writer)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile


def write_oif(path: Path, data: np.ndarray, names: list[str], pixel_size: float, unit: str = "um") -> Path:
    """``data`` (C, Y, X) or (C, Z, Y, X) as ``path`` (.oif) with one TIFF per channel (and plane)."""
    lines = ["[ProfileSaveInfo]", 'Name="morphopotency test"', 'Version="1.0"', "[Reference Image Parameter]"]
    lines += [f"WidthConvertValue={pixel_size}", f'WidthUnit="{unit}"']
    lines += [f"HeightConvertValue={pixel_size}", f'HeightUnit="{unit}"']
    for i, name in enumerate(names):
        lines += [f"[Channel {i + 1} Parameters]", f'DyeName="{name}"']
    path.write_bytes(b"\xff\xfe" + ("\r\n".join(lines) + "\r\n").encode("utf-16-le"))
    store = path.parent / (path.name + ".files")
    store.mkdir()
    for c, channel in enumerate(data):
        if channel.ndim == 2:
            tifffile.imwrite(store / f"s_C{c + 1:03d}.tif", channel)
        else:
            for z, plane in enumerate(channel):
                tifffile.imwrite(store / f"s_C{c + 1:03d}Z{z + 1:03d}.tif", plane)
    return path


def write_ome_zarr(
    path: Path, data: np.ndarray, names: list[str], pixel_size: float, unit="micrometer"
) -> Path:
    """``data`` (C, Y, X) as an OME-Zarr image (T, C, Z, Y, X on disk)."""
    from bioio_ome_zarr.writers import Channel, OMEZarrWriter

    writer = OMEZarrWriter(
        str(path),
        level_shapes=(1, data.shape[0], 1, *data.shape[1:]),
        dtype=data.dtype,
        channels=[Channel(label=n, color="FFFFFF") for n in names],
        axes_names=["t", "c", "z", "y", "x"],
        axes_types=["time", "channel", "space", "space", "space"],
        axes_units=[None, None, unit, unit, unit],
        physical_pixel_size=[1.0, 1.0, 1.0, pixel_size, pixel_size],
    )
    writer.write_full_volume(data[None, :, None])
    return path
