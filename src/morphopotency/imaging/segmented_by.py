"""How a donor's cells were segmented, recorded with the cells themselves.

A model learns cells as one segmenter cuts them: another tool's outlines are wider or narrower, keep
other debris and split other neighbours, so a lot segmented otherwise than its reference is scored
against error rates that describe other cells. The cell table records what made its labels (the
workflow's watershed, Cellpose, or the lab's own masks and the tool that drew them), the bundle keeps
what its reference donors were cut by, and a scoring run holds a lot whose record matches none of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from morphopotency.features import SEGMENTATION_COLUMNS

KINDS = ("watershed", "cellpose", "masks")
# Libraries that write a TIFF without having drawn its labels: a Software tag naming one says nothing of
# the tool (tifffile writes its own name by default, and scikit-image, imageio and Cellpose write through it).
WRITERS = ("tifffile", "scikit-image", "skimage", "imageio", "libtiff", "pillow", "pil")


@dataclass(frozen=True)
class Segmentation:
    """``kind``: one of KINDS; ``tool``: for masks, the tool that drew them (imaging.masks_tool, else the
    mask files' TIFF Software tag; empty when neither says), for Cellpose its model."""

    kind: str
    tool: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown segmentation {self.kind!r} (known: {', '.join(KINDS)})")

    def describe(self) -> str:
        if self.kind == "masks":
            return f"the lab's own masks ({self.tool or 'tool not stated'})"
        if self.kind == "cellpose":
            return f"Cellpose ({self.tool})" if self.tool else "Cellpose"
        return "the workflow's watershed"

    def matches(self, other: Segmentation) -> bool:
        """Cut the same way. Two sets of masks match unless both name their tool and the tools differ
        (compared by name, case and version numbers aside: a lab that does not say which tool it used is
        not held for it). Cellpose matches Cellpose: a scoring run always segments with the bundle's own
        model, whose checksum it verifies."""
        if self.kind != other.kind:
            return False
        if self.kind != "masks" or not (self.tool and other.tool):
            return True
        return _tool_name(self.tool) == _tool_name(other.tool)

    def record(self) -> dict[str, str]:
        return {"kind": self.kind, "tool": self.tool}


def _tool_name(tool: str) -> str:
    """'CellProfiler 4.2.6' and 'cellprofiler v4.2.1' -> 'cellprofiler'."""
    words = [w for w in re.split(r"[\s,;:/()]+", tool.casefold()) if w]
    return " ".join(w for w in words if not re.fullmatch(r"v?\d[\w.\-]*", w))


def mask_tool(paths: Iterable[str | Path]) -> str:
    """The tool the mask files name in their TIFF Software tag, writer libraries aside (WRITERS); the
    distinct names joined by '; ', or '' where no file names one (PNG masks carry no such tag)."""
    import tifffile

    found: list[str] = []
    for path in paths:
        if Path(path).suffix.lower() not in (".tif", ".tiff"):
            continue
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages[0].tags.get("Software")
        value = str(tag.value).strip() if tag is not None else ""
        if value and not _tool_name(value).startswith(WRITERS) and value not in found:
            found.append(value)
    return "; ".join(found)


def planned(
    donor: str, segmenter: str, cellpose: Mapping[str, object], mask_pattern: str | None, tool: object
) -> Segmentation:
    """What a run cuts one donor's cells with: its own masks where ``mask_pattern`` names some (``tool``:
    imaging.masks_tool, a name or a mapping donor -> name), else the run's segmenter (for Cellpose, the
    model the config named: a bundle's scoring run keeps it as source_model)."""
    if mask_pattern:
        named = tool.get(donor) if isinstance(tool, Mapping) else tool
        return Segmentation("masks", str(named or ""))
    if segmenter == "cellpose":
        model = str(cellpose.get("source_model") or cellpose.get("model") or "")
        return Segmentation("cellpose", Path(model).name if model else "")
    return Segmentation("watershed")


def resolved(segmentation: Segmentation, label_files: Sequence[str | Path]) -> Segmentation:
    """Masks of no named tool take the one their files name, if any."""
    if segmentation.kind == "masks" and not segmentation.tool:
        return Segmentation("masks", mask_tool(label_files))
    return segmentation


def annotate(obs: pd.DataFrame, segmentation: Segmentation) -> pd.DataFrame:
    """The cell table with its segmentation recorded on every row (SEGMENTATION_COLUMNS)."""
    kind, tool = SEGMENTATION_COLUMNS
    return obs.assign(**{kind: segmentation.kind, tool: segmentation.tool})


def of_cells(cells: pd.DataFrame) -> list[Segmentation]:
    """The distinct segmentations a cell table records, in order of first appearance; empty where it
    records none (a table written before the record existed)."""
    kind, tool = SEGMENTATION_COLUMNS
    if kind not in cells:
        return []
    tools = cells[tool].fillna("").astype(str) if tool in cells else pd.Series("", index=cells.index)
    pairs = pd.DataFrame({"kind": cells[kind].astype(str), "tool": tools}).drop_duplicates()
    return [Segmentation(r.kind, r.tool) for r in pairs.itertuples()]


def by_donor(cells: pd.DataFrame) -> list[dict[str, object]]:
    """One entry per distinct segmentation of a cell table, with the donors it cut: the bundle's record of
    its reference (settings.json, imaging.segmented_by)."""
    kind, tool = SEGMENTATION_COLUMNS
    if kind not in cells:
        return []
    table = cells.assign(**{tool: cells[tool].fillna("").astype(str) if tool in cells else ""})
    out = []
    for (k, t), part in table.groupby([kind, tool], sort=False):
        out.append({"kind": str(k), "tool": str(t), "donors": sorted(part["donor"].astype(str).unique())})
    return out


def mismatch(lot: Sequence[Segmentation], reference: Sequence[Segmentation]) -> str | None:
    """Why a lot's cells are not cut as the reference's were, or None when they are (each of the lot's
    segmentations matching one of the reference's)."""
    if not reference:
        return None  # a bundle that records nothing (a CNN trained on a folder of cells): nothing to compare
    ref = " and ".join(s.describe() for s in reference)
    if not lot:
        return f"how the lot was segmented is not recorded with its cells; the reference by {ref}"
    for own in lot:
        if not any(own.matches(r) for r in reference):
            return f"segmented by {own.describe()}, the reference by {ref}"
    return None
