"""Image and segmentation quality of a scored donor, against the reference cohort's own: a donor imaged or
segmented unlike the reference is scored all the same, and flagged with the reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

# Objects far smaller or larger than the reference's median cell: debris or fragments, and neighbours
# merged into one object.
TINY_AREA, MERGED_AREA = 0.25, 3.0


def _per_image(cells: pd.DataFrame, column: str) -> pd.Series:
    if column not in cells:
        return pd.Series(dtype=float)
    return cells.groupby(["donor", "image"], sort=False)[column].first().astype(float)


def segmentation_rates(cells: pd.DataFrame, median_area: float) -> dict[str, float]:
    """Shares of objects cut by the image border, tiny, and merged."""
    area = cells["area"].to_numpy(float)
    border = cells["touches_border"].astype(bool).mean() if "touches_border" in cells else np.nan
    return {
        "border_share": float(border) if len(cells) else np.nan,
        "tiny_share": float(np.mean(area < TINY_AREA * median_area)) if len(cells) else np.nan,
        "merged_share": float(np.mean(area > MERGED_AREA * median_area)) if len(cells) else np.nan,
    }


def expected_focus(reference: pd.DataFrame, low: float, high: float, observed: float) -> float:
    """The reference images' edge sharpness at a lot's mix: cells of one kind have sharper edges than
    another's (on real nuclei crops a field's sharpness fell by a third from 0.03 to 0.93 of one group), so
    a lot rich in the blunter kind is not out of focus for that. log sharpness is fitted on each reference
    image's labelled share (a line; its median where the images span under 0.1 of share or number under
    three), and the lot is compared at the fraction within its interval [``low``, ``high``] that comes
    nearest its ``observed`` median, as the drift check draws its reference (NaN bounds: the reference's
    own mix)."""
    per = reference.groupby(["donor", "image"], sort=False).agg(
        focus=("image_focus", "first"), share=("label", "mean")
    )
    per = per[np.isfinite(per["focus"]) & (per["focus"] > 0)]
    if per.empty:
        return float("nan")
    if len(per) < 3 or np.ptp(per["share"]) < 0.1:
        return float(per["focus"].median())
    slope, intercept = np.polyfit(per["share"], np.log(per["focus"]), 1)
    grid = np.linspace(low, high, 7) if np.isfinite([low, high]).all() else np.array([per["share"].mean()])
    expected = np.exp(intercept + slope * np.clip(grid, 0, 1))
    return (
        float(expected[np.argmin(np.abs(np.log(observed / expected)))])
        if observed > 0
        else float(expected[0])
    )


def quality(
    cells: pd.DataFrame,
    reference: pd.DataFrame,
    qc: Mapping[str, Any],
    interval: tuple[float, float] = (np.nan, np.nan),
) -> tuple[dict, list[str]]:
    """(signals, flags) of one donor's cells against the reference cells (``qc``: config score.qc;
    ``interval``: the donor's 95 % interval, where the focus check compares it with the reference at its
    own mix, expected_focus, when the reference cells carry their labels)."""
    median_area = float(reference["area"].median())
    own, ref = segmentation_rates(cells, median_area), segmentation_rates(reference, median_area)
    focus, ref_focus = _per_image(cells, "image_focus"), _per_image(reference, "image_focus")
    focus_ratio = float(focus.median() / ref_focus.median()) if len(focus) and len(ref_focus) else np.nan
    at_mix = np.nan
    if np.isfinite(focus_ratio) and "label" in reference:
        at_mix = float(focus.median() / expected_focus(reference, *interval, float(focus.median())))
    judged = at_mix if np.isfinite(at_mix) else focus_ratio
    saturated = _per_image(cells, "image_saturated")
    # Shapes are measured at pixel_size_um; imaged_pixel_size_um is the file's before resampling (the same
    # when nothing was resampled, and in tables made before resampling existed).
    pixel, ref_pixel = _per_image(cells, "pixel_size_um"), _per_image(reference, "pixel_size_um")
    imaged = (
        _per_image(cells, "imaged_pixel_size_um").fillna(pixel) if "imaged_pixel_size_um" in cells else pixel
    )
    pixel_ratio, imaged_ratio = (
        float(values.median() / ref_pixel.median())
        if values.notna().any() and ref_pixel.notna().any()
        else np.nan
        for values in (pixel, imaged)
    )
    signals = {
        "focus_ratio": focus_ratio,
        "focus_ratio_at_mix": at_mix,
        "saturated_max": float(saturated.max()) if len(saturated) else np.nan,
        "pixel_size_ratio": pixel_ratio,
        "imaged_pixel_size_ratio": imaged_ratio,
        **own,
    }
    flags = []
    if np.isfinite(judged) and judged < qc["min_focus_ratio"]:
        mix = " at its mix" if np.isfinite(at_mix) else ""
        flags.append(f"images out of focus (edge sharpness {judged:.2f} x the reference's{mix})")
    if np.isfinite(signals["saturated_max"]) and signals["saturated_max"] > qc["max_saturated"]:
        flags.append(f"saturated images (up to {signals['saturated_max']:.1%} of pixels at the ceiling)")
    off = np.log1p(qc["max_pixel_size_change"])
    if np.isfinite(pixel_ratio) and abs(np.log(pixel_ratio)) > off:
        flags.append(
            f"pixel size {pixel.median():.3g} um, the reference's {ref_pixel.median():.3g} um: shapes are "
            "measured in pixels"
        )
    elif np.isfinite(imaged_ratio) and abs(np.log(imaged_ratio)) > off:
        # Corrected, yet flagged: resampled images are not those the model learned from or was validated
        # on (sampling, noise and fine outline detail differ), so a person should look before deciding.
        flags.append(
            f"imaged at {imaged.median():.3g} um a pixel, the reference at {ref_pixel.median():.3g} um: "
            "resampled to it, a correction the validation did not test"
        )
    names = {"border_share": "cut by the image border", "tiny_share": "tiny", "merged_share": "merged"}
    for key, name in names.items():
        if np.isfinite(own[key]) and own[key] - np.nan_to_num(ref[key]) > qc["max_excess"]:
            flags.append(f"{own[key]:.0%} of objects {name} (reference {np.nan_to_num(ref[key]):.0%})")
    return signals, flags
