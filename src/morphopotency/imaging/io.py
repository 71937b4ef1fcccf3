"""Reading microscope images: channels by name or index, z-stacks, bit depth, pixel size, masks.

tifffile reads the axes of OME-TIFF, ImageJ and plain TIFF series, morphopotency.imaging.formats the
native formats (Olympus OIB/OIF, ND2, CZI, LIF, OME-Zarr); this module maps either to the three roles
the workflow needs (shape = CD105, label = SSEA3, nuclei = DAPI) and fails with the file named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

from morphopotency.imaging.formats import FormatError, is_native, read_native
from morphopotency.imaging.units import UnitError, to_um


class ImageError(ValueError):
    """An image that cannot be used, naming the file and what is wrong."""


@dataclass(frozen=True)
class Channels:
    """Channel name or index for each role; ``None`` when the role is absent. Roles in ``optional`` are
    read when the image has them (a scored donor's SSEA3, imaged or not)."""

    shape: str | int = "CD105"
    label: str | int | None = "SSEA3"
    nuclei: str | int | None = "DAPI"
    optional: tuple[str, ...] = ()


@dataclass
class Image:
    """One field of view as float arrays per role, with what is needed to interpret the values."""

    path: Path
    shape: np.ndarray
    label: np.ndarray | None = None
    nuclei: np.ndarray | None = None
    max_value: float = 65535.0  # full scale of the stored integer type (or configured bit depth)
    pixel_size_um: float | None = None
    channel_names: list[str] = field(default_factory=list)


def _ome_images(tif: tifffile.TiffFile) -> list[dict]:
    """The OME-XML's Image elements (parsed by tifffile's public xml2dict, not by pattern matching)."""
    images = tifffile.xml2dict(tif.ome_metadata).get("OME", {}).get("Image", [])
    return images if isinstance(images, list) else [images]


def _channel_names(tif: tifffile.TiffFile, n: int) -> list[str]:
    names: list[str] = []
    if tif.is_ome and tif.ome_metadata:
        images = _ome_images(tif)
        channels = images[0].get("Pixels", {}).get("Channel", []) if images else []
        channels = channels if isinstance(channels, list) else [channels]
        names = [str(c.get("Name", i)) for i, c in enumerate(channels)]
    elif tif.is_imagej and tif.imagej_metadata:
        labels = tif.imagej_metadata.get("Labels") or tif.imagej_metadata.get("labels")
        if isinstance(labels, list):
            names = [str(x) for x in labels]
    return names[:n] if len(names) >= n else [str(i) for i in range(n)]


def _pixel_size(tif: tifffile.TiffFile, path: Path) -> float | None:
    """Pixel size in µm from OME (PhysicalSizeX with its unit) or ImageJ metadata (resolution and unit);
    None when the file gives no physical size (an ImageJ file in pixels, a plain TIFF)."""
    if tif.is_ome and tif.ome_metadata:
        images = _ome_images(tif)
        pixels = images[0].get("Pixels", {}) if images else {}
        if pixels.get("PhysicalSizeX") is not None:
            return to_um(pixels["PhysicalSizeX"], pixels.get("PhysicalSizeXUnit"), path)
    if tif.is_imagej and tif.imagej_metadata:
        unit = str(tif.imagej_metadata.get("unit", "")).replace("\\u00B5", "µ")
        tag = tif.pages[0].tags.get("XResolution")
        if unit in ("", "pixel", "pixels") or not (tag and tag.value[0]):
            return None
        return to_um(tag.value[1] / tag.value[0], unit, path)
    return None


def _single_scene(tif: tifffile.TiffFile, path: Path) -> None:
    """Refuse a multi-scene (multi-position) OME-TIFF, naming its scenes: never a silent first pick."""
    if tif.is_ome and tif.ome_metadata:
        images = _ome_images(tif)
        if len(images) > 1:
            names = ", ".join(str(im.get("Name", im.get("ID", i))) for i, im in enumerate(images))
            raise ImageError(
                f"{path}: holds {len(images)} scenes ({names}); save one scene per file (e.g. Fiji's "
                "Bio-Formats exporter) so that each becomes an image of the sample sheet"
            )


def _pick(index_or_name: str | int, names: list[str], path: Path, role: str) -> int:
    if isinstance(index_or_name, int):
        if not 0 <= index_or_name < len(names):
            raise ImageError(
                f"{path}: channel index {index_or_name} for '{role}' is out of range (the image has "
                f"{len(names)} channel(s))"
            )
        return index_or_name
    lowered = [n.lower() for n in names]
    if index_or_name.lower() in lowered:
        return lowered.index(index_or_name.lower())
    raise ImageError(
        f"{path}: no channel named '{index_or_name}' for '{role}'; channels are {names} (set "
        f"imaging.channels.{role} to a name or 0-based index)"
    )


def _read_channel_files(
    files: Mapping[str, str | Path], z_projection: str
) -> tuple[np.ndarray, str, list[str], float | None]:
    """One file per channel (named by the mapping's keys): each read as a 2-D plane and stacked."""
    planes, pixel = [], None
    for name, f in files.items():
        try:
            with tifffile.TiffFile(f) as tif:
                data, axes = tif.series[0].asarray(), tif.series[0].axes
                pixel = pixel or _pixel_size(tif, Path(f))
        except ImageError:
            raise
        except UnitError as exc:
            raise ImageError(str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - as in read_image: any reader or codec error
            raise ImageError(f"{f}: cannot read the image ({type(exc).__name__}: {exc})") from exc
        if "Z" in axes and z_projection == "max":
            data, axes = data.max(axis=axes.index("Z")), axes.replace("Z", "")
        if data.ndim != 2:
            raise ImageError(
                f"{f}: channel '{name}' should be one 2-D plane, got axes {axes} and shape {data.shape}"
            )
        planes.append(data)
    if len({p.shape for p in planes}) > 1:
        raise ImageError(
            f"{list(files.values())[0]}: the per-channel files of this image differ in size: "
            f"{[p.shape for p in planes]}"
        )
    return np.stack(planes), "CYX", list(files), pixel


def read_image(
    path: str | Path | Mapping[str, str | Path],
    channels: Channels = Channels(),
    z_projection: str = "max",
    bit_depth: int | None = None,
) -> Image:
    """Read one multichannel image (C, [Z,] Y, X in any order tifffile reports) into per-role planes.

    ``path`` may also map channel names to one file each (microscopes that save channels apart).
    """
    if isinstance(path, Mapping):
        data, axes, names, pixel = _read_channel_files(path, z_projection)
        return _to_image(
            Path(next(iter(path.values()))), data, axes, names, pixel, channels, z_projection, bit_depth, axes
        )
    path = Path(path)
    if is_native(path):
        try:
            pixels = read_native(path)
        except (FormatError, UnitError) as exc:
            raise ImageError(str(exc)) from exc
        axes = pixels.axes
        return _to_image(
            path,
            pixels.data,
            axes,
            pixels.channel_names,
            pixels.pixel_size_um,
            channels,
            z_projection,
            bit_depth,
            axes,
        )
    try:
        with tifffile.TiffFile(path) as tif:
            _single_scene(tif, path)
            series = tif.series[0]
            axes = series.axes
            data = series.asarray()
            names = _channel_names(tif, data.shape[axes.index("C")] if "C" in axes else 1)
            pixel = _pixel_size(tif, path)
    except ImageError:
        raise
    except UnitError as exc:
        raise ImageError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - a damaged file fails inside tifffile or a codec (imagecodecs raises
        # its own DeflateError, LzwError, ...): whatever the reader raises, the user needs the file named.
        raise ImageError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from exc
    return _to_image(path, data, axes, names, pixel, channels, z_projection, bit_depth, series.axes)


def _to_image(
    path: Path,
    data: np.ndarray,
    axes: str,
    names: list[str],
    pixel: float | None,
    channels: Channels,
    z_projection: str,
    bit_depth: int | None,
    original_axes: str,
) -> Image:
    if not np.issubdtype(data.dtype, np.integer) and not np.issubdtype(data.dtype, np.floating):
        raise ImageError(f"{path}: unsupported pixel type {data.dtype}")
    axes = axes.replace("S", "C") if "C" not in axes else axes
    for extra in ("T", "Q", "I"):  # time points or unknown leading axes: take the first
        while extra in axes:
            data = np.take(data, 0, axis=axes.index(extra))
            axes = axes.replace(extra, "", 1)
    if "Z" in axes:
        if z_projection != "max":
            raise ImageError(
                f"{path}: a z-stack ({data.shape[axes.index('Z')]} planes) but imaging.z_projection is "
                f"'{z_projection}'; set it to max"
            )
        data = data.max(axis=axes.index("Z"))
        axes = axes.replace("Z", "")
    if "C" not in axes:
        data = data[None]
        axes = "C" + axes
    if axes.replace("C", "") != "YX" or data.ndim != 3:
        raise ImageError(
            f"{path}: expected a 2-D image with channels (axes C, Y, X), got axes {original_axes} and "
            f"shape {data.shape}"
        )
    data = np.moveaxis(data, axes.index("C"), 0)
    if min(data.shape[1:]) < 8:
        raise ImageError(f"{path}: image of {data.shape[1]} x {data.shape[2]} pixels is too small to segment")
    if bit_depth:
        full = float(2**bit_depth - 1)
    elif np.issubdtype(data.dtype, np.integer):
        full = float(np.iinfo(data.dtype).max)
    else:
        full = 1.0
    planes = {}
    for role in ("shape", "label", "nuclei"):
        wanted = getattr(channels, role)
        if wanted is None:
            planes[role] = None
            continue
        try:
            planes[role] = data[_pick(wanted, names, path, role)].astype(np.float32)
        except ImageError:
            if role not in channels.optional:
                raise
            planes[role] = None
    return Image(
        path=path,
        shape=planes["shape"],
        label=planes["label"],
        nuclei=planes["nuclei"],
        max_value=full,
        pixel_size_um=pixel,
        channel_names=names,
    )


def read_mask(
    path: str | Path, expected_shape: tuple[int, int], native_shape: tuple[int, int] | None = None
) -> np.ndarray:
    """A user's label image, as the tools labs use write them: TIFF (StarDist, QuPath, CellProfiler's
    object images, Cellpose's ``*_masks.tif``) or PNG, 8- or 16-bit (Cellpose's ``*_cp_masks.png``).
    Integer labels are kept as they are: touching cells are told apart by label value, so labels are
    never re-derived by connected components. Cellpose's ``_seg.npy`` is a pickle and is never loaded.

    ``native_shape``: the image's size as stored, when it was resampled (imaging.resample_um) to
    ``expected_shape``; a mask of that size is accepted as it is (``resample.labels_to_shape`` brings it
    to the resampled image).
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        raise ImageError(
            f"{path}: a .npy mask (Cellpose's _seg.npy) holds pickled objects and is not loaded; save the "
            "label image instead (cellpose --save_png, or --save_tif)"
        )
    try:
        if path.suffix.lower() == ".png":
            from skimage import io as skio

            mask = np.squeeze(skio.imread(path))
        else:
            mask = np.squeeze(tifffile.imread(path))
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise ImageError(f"{path}: cannot read the mask ({exc})") from exc
    if not np.issubdtype(mask.dtype, np.integer):
        raise ImageError(f"{path}: a mask must hold integer labels, got {mask.dtype}")
    if mask.ndim != 2:
        raise ImageError(f"{path}: a mask must be one 2-D label image, got shape {mask.shape} (colour?)")
    stored = tuple(native_shape or expected_shape)
    if mask.shape not in (tuple(expected_shape), stored):
        raise ImageError(f"{path}: mask shape {mask.shape} differs from its image {stored}")
    if mask.dtype == np.uint8 and _split_labels(mask):
        raise ImageError(
            f"{path}: 8-bit labels, some of which cover several separate objects: more than 255 cells "
            "overflowed the 8-bit type; save the mask as 16-bit PNG or TIFF"
        )
    return mask.astype(np.int64)


def _split_labels(mask: np.ndarray) -> bool:
    """Whether some label value covers more than one connected object (scikit-image labels connected
    pixels of equal value apart)."""
    from skimage import measure

    return int(measure.label(mask, background=0, connectivity=2).max()) > len(np.unique(mask[mask > 0]))
