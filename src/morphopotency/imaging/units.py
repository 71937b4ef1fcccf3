"""Physical pixel sizes in µm, whatever length unit a file's metadata names."""

from __future__ import annotations

from pathlib import Path

# Length units as OME writes them (and ImageJ's "micron"), in micrometres per unit.
UNIT_UM = {
    "pm": 1e-6,
    "Å": 1e-4,
    "nm": 1e-3,
    "µm": 1.0,
    "μm": 1.0,
    "um": 1.0,
    "micron": 1.0,
    "microns": 1.0,
    "mm": 1e3,
    "cm": 1e4,
    "m": 1e6,
}


class UnitError(ValueError):
    """A pixel size in a unit that is not a length."""


def to_um(value: float, unit: str | None, path: str | Path) -> float:
    """A physical pixel size in µm; OME's default unit is µm when the file names none."""
    unit = "µm" if unit in (None, "") else str(unit)
    if unit not in UNIT_UM:
        raise UnitError(f"{path}: pixel size unit {unit!r} is not a length unit this reader knows")
    return float(value) * UNIT_UM[unit]
