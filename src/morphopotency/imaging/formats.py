"""Microscope formats other than TIFF, each through the library made for it: oiffile for Olympus OIB/OIF
(the paper's FV1000 confocal), bioio with one plugin per format for Nikon ND2, Zeiss CZI, Leica LIF and
OME-Zarr. Each reader returns the pixels with their axes, the channel names and the pixel size in µm, so
``morphopotency.imaging.io`` treats every format alike. The libraries are optional extras: a file whose
reader is not installed is refused with the extra to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from morphopotency.imaging.units import to_um

# Suffix -> (module to import, the package's extra in pyproject.toml, the human name of the format).
OLYMPUS = (".oib", ".oif")
BIOIO_PLUGINS = {
    ".nd2": ("bioio_nd2", "nd2", "Nikon ND2"),
    ".czi": ("bioio_czi", "czi", "Zeiss CZI"),
    ".lif": ("bioio_lif", "lif", "Leica LIF"),
    ".zarr": ("bioio_ome_zarr", "zarr", "OME-Zarr"),
}
NATIVE_SUFFIXES = (*OLYMPUS, *BIOIO_PLUGINS, ".ome.zarr")


class FormatError(ValueError):
    """A native file that cannot be read, naming the file (morphopotency.imaging.io re-raises it)."""


@dataclass(frozen=True)
class Pixels:
    """What every reader returns: the array with tifffile-style axes letters, channel names, µm/pixel."""

    data: np.ndarray
    axes: str
    channel_names: list[str]
    pixel_size_um: float | None


def is_native(path: str | Path) -> bool:
    return str(path).lower().rstrip("/").endswith(NATIVE_SUFFIXES)


def _import(module: str, extra: str, path: Path, what: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.replace("_", "-")
        raise FormatError(
            f"{path}: reading {what} files needs the {package} package: "
            f"pip install 'morphopotency[{extra}]' (or pip install {package})"
        ) from exc


def read_native(path: str | Path) -> Pixels:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in OLYMPUS:
        return _read_olympus(path)
    if suffix in BIOIO_PLUGINS:
        return _read_bioio(path, *BIOIO_PLUGINS[suffix])
    raise FormatError(f"{path}: not a format this reader knows (suffixes: {', '.join(NATIVE_SUFFIXES)})")


def _olympus_pixel_size(settings: dict, path: Path) -> float | None:
    """µm per pixel from the main settings' [Reference Image Parameter] WidthConvertValue and WidthUnit."""
    reference = settings.get("Reference Image Parameter", {})
    value = reference.get("WidthConvertValue")
    if value in (None, "", 0):
        return None
    return to_um(float(value), str(reference.get("WidthUnit", "")) or None, path)


def _read_olympus(path: Path) -> Pixels:
    oiffile = _import("oiffile", "olympus", path, "Olympus OIB/OIF")
    with oiffile.OifFile(path) as oif:
        series = oif.series[0]
        data = series.asarray()
        # The series' own axes (from the TIFF names, e.g. s_C001Z002.tif) then the planes' Y and X.
        axes = "".join(series.axes).upper() + "YX"
        axes = axes[-data.ndim :] if len(axes) >= data.ndim else axes
        settings = oif.mainfile
        n = data.shape[axes.index("C")] if "C" in axes else 1
        names = [
            str(settings.get(f"Channel {i + 1} Parameters", {}).get("DyeName", "") or i) for i in range(n)
        ]
        return Pixels(data, axes, names, _olympus_pixel_size(settings, path))


def _bioio_pixel_size(image, path: Path) -> float | None:
    """µm per pixel from the reader's X scale and the unit its metadata gives (pint); none: µm (OME's)."""
    size = image.physical_pixel_sizes.X
    if size is None:
        return None
    # Readers without dimension properties give µm, bioio's documented unit.
    unit = getattr(getattr(image, "dimension_properties", None), "X", None)
    unit = getattr(unit, "unit", None)
    if unit is None:
        return to_um(float(size), None, path)
    return float((float(size) * unit).to("micrometer").magnitude)


def _read_bioio(path: Path, module: str, extra: str, what: str) -> Pixels:
    bioio = _import("bioio", extra, path, what)
    plugin = _import(module, extra, path, what)
    try:
        image = bioio.BioImage(path, reader=plugin.Reader)
        scenes = list(image.scenes)
        if len(scenes) > 1:
            raise FormatError(
                f"{path}: holds {len(scenes)} scenes ({', '.join(map(str, scenes))}); export one scene per "
                "file so that each becomes an image of the sample sheet"
            )
        data = np.asarray(image.get_image_data("TCZYX"))
        names = [str(c) for c in (image.channel_names or [])]
        pixel = _bioio_pixel_size(image, path)
    except FormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - any plugin or codec error: the user needs the file named
        raise FormatError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from exc
    n = data.shape[1]
    return Pixels(data, "TCZYX", names if len(names) == n else [str(i) for i in range(n)], pixel)
