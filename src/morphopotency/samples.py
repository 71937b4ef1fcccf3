"""The sample sheet: one row per donor sample, checked row by row so errors name the line to fix."""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pandas as pd

from morphopotency.config import ConfigError, schema_errors

IMAGE_SUFFIXES = (
    ".ome.tif",
    ".ome.tiff",
    ".tif",
    ".tiff",
    ".oib",
    ".oif",
    ".nd2",
    ".czi",
    ".lif",
    ".ome.zarr",
    ".zarr",
)
_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def read_sample_sheet(path: str | Path, schema: Mapping[str, Any]) -> pd.DataFrame:
    """Read and validate ``samples.tsv``; errors give the file, line number and column."""
    path = Path(path)
    try:
        sheet = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the sample sheet: {exc}") from exc
    if not isinstance(sheet.index, pd.RangeIndex):  # pandas takes a surplus first field as the index
        raise ConfigError(f"{path}: some rows have more tab-separated fields than the header has columns")
    sheet.columns = [c.strip() for c in sheet.columns]
    sheet = sheet.apply(lambda col: col.str.strip())
    required = list(schema.get("required", []))
    missing = [c for c in required if c not in sheet.columns]
    if missing:
        raise ConfigError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must hold {', '.join(required)}"
        )
    if "role" not in sheet.columns:  # optional: every donor is a reference donor
        sheet["role"] = ""
    sheet["role"] = sheet["role"].replace("", "reference")
    errors: list[str] = []
    for index, record in enumerate(sheet.to_dict(orient="records")):
        line = index + 2  # header is line 1
        for message in schema_errors(record, schema):
            errors.append(f"line {line} (sample '{record.get('sample', '')}'): {message}")
    duplicated = sheet["sample"][sheet["sample"].duplicated(keep=False)]
    for sample in sorted(set(duplicated)):
        lines = [str(i + 2) for i in sheet.index[sheet["sample"] == sample]]
        errors.append(f"sample '{sample}' is duplicated (lines {', '.join(lines)})")
    with_images = sheet[sheet["images"] != ""]
    for donor, rows in with_images.groupby("donor"):
        if len(rows) > 1:
            lines = ", ".join(str(i + 2) for i in rows.index)
            errors.append(
                f"donor '{donor}' has images on several lines ({lines}); give images on one sample only"
            )
    for donor, rows in sheet.groupby("donor"):
        if rows["role"].nunique() > 1:
            lines = ", ".join(str(i + 2) for i in rows.index)
            errors.append(f"donor '{donor}' is both reference and score (lines {lines}); give one role")
    if sheet.empty:
        errors.append("no samples")
    if errors:
        raise ConfigError(f"{path}: invalid sample sheet:\n  - " + "\n  - ".join(errors))
    return sheet.set_index("sample", drop=False)


def image_id(path: str | Path) -> str:
    """File name without its image suffix; used as a wildcard value, so it must be a plain ID."""
    name = Path(path).name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def is_image_file(path: str | Path) -> bool:
    """A file of a format the reader knows; OME-Zarr images are folders."""
    path = Path(path)
    if path.is_dir():
        return path.name.lower().endswith(".zarr")
    return path.name.lower().endswith(IMAGE_SUFFIXES)


def expand_images(spec: str, planned: Iterable[str | Path] = ()) -> list[Path]:
    """Files a sample's ``images`` entry names: a folder (its TIFFs) or a glob.

    ``planned`` are files the workflow itself will make (the demo), matched as if they existed.
    """
    planned_paths = [Path(p) for p in planned]
    if not spec:
        return []
    folder = Path(spec)
    if folder.is_dir() or any(p.parent == folder for p in planned_paths):
        found = {p for p in folder.glob("*") if is_image_file(p)} if folder.is_dir() else set()
        found |= {p for p in planned_paths if p.parent == folder and is_image_file(p)}
    else:
        found = {Path(p) for p in glob.glob(spec) if Path(p).is_file() or is_image_file(p)}
        found |= {p for p in planned_paths if fnmatch(str(p), spec)}
    return sorted(found)


def _group_channel_files(
    files: list[Path], pattern: str, sample: str, errors: list[str]
) -> dict[str, dict[str, Path]]:
    """One file per channel: image id = file name without the part the pattern's ``channel`` group matched."""
    regex = re.compile(pattern)
    grouped: dict[str, dict[str, Path]] = {}
    for f in files:
        match = regex.search(f.name)
        if not match or "channel" not in match.groupdict():
            errors.append(
                f"sample '{sample}': file '{f.name}' does not match imaging.channel_pattern '{pattern}'"
            )
            continue
        iid = image_id(f.name[: match.start()] + f.name[match.end() :])
        grouped.setdefault(iid, {})[match.group("channel")] = f
    return grouped


def images_by_donor(
    sheet: pd.DataFrame, planned: Iterable[str | Path] = (), channel_pattern: str | None = None
) -> dict[str, dict[str, Path | dict[str, Path]]]:
    """donor -> {image id -> file, or channel -> file when each channel is its own file}.

    Raises naming the row whose images are missing or ambiguous.
    """
    planned = list(planned)
    result: dict[str, dict[str, Path | dict[str, Path]]] = {}
    errors = []
    for sample, row in sheet.iterrows():
        if not row["images"]:
            continue
        files = expand_images(row["images"], planned)
        if not files:
            errors.append(
                f"sample '{sample}': images '{row['images']}' match no image file "
                "(TIFF, OIB/OIF, ND2, CZI, LIF or OME-Zarr)"
            )
            continue
        if channel_pattern:
            grouped = _group_channel_files(files, channel_pattern, sample, errors)
            errors.extend(
                f"sample '{sample}': image id '{i}' (from per-channel files) must use letters, digits, _ "
                "or - only"
                for i in grouped
                if not _ID.match(i)
            )
            result[row["donor"]] = dict(sorted(grouped.items()))
            continue
        ids: dict[str, Path | dict[str, Path]] = {}
        for f in files:
            iid = image_id(f)
            if not _ID.match(iid):
                errors.append(
                    f"sample '{sample}': image file name '{f.name}' must use letters, digits, _ or - only"
                )
            elif iid in ids:
                errors.append(f"sample '{sample}': two files give image id '{iid}': {ids[iid]} and {f}")
            else:
                ids[iid] = f
        result[row["donor"]] = ids
    if errors:
        raise ConfigError("sample sheet images:\n  - " + "\n  - ".join(errors))
    return result
