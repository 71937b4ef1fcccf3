"""Confocal-like fields of view for the demo cohort: CD105 cell body, SSEA3 label, DAPI nuclei.

Each field is rendered from planted cells (shape class, multipotency, SSEA3 level) with the nuisances of
real images: touching neighbours, textured cytoplasm, optical blur, background offset, vignetting and
shot/read noise. The planted label image and per-cell table are the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage.draw import ellipse, polygon

from morphopotency.simulate.outlines import SHAPE_CLASSES, outline

CHANNELS = ("CD105", "SSEA3", "DAPI")
PIXEL_SIZE_UM = 0.8

# P(shape class | multipotent): multipotent cells are more often round, with overlap (paper, Fig. 4E). The
# oracle's sensitivity minus false-positive rate is 0.65 (ROC-AUC 0.864), the separability of the paper's
# Table 1 (sensitivity 0.99, specificity 0.64: 0.63; AUC 0.84-0.89), so the demo's donor fractions are as
# hard to estimate as a real cohort's, not harder.
SHAPE_PROBS = {True: (0.75, 0.08, 0.17), False: (0.10, 0.60, 0.30)}
# Planted mean SSEA3 (8-bit scale) by class; the paper's label threshold of 90 falls in the overlap.
SSEA3_MEAN = {True: 165.0, False: 45.0}
SSEA3_SD = {True: 22.0, False: 16.0}


def shape_class_ceiling() -> dict[str, float]:
    """The best ROC-AUC and balanced accuracy any classifier can reach on the demo's planted labels.

    Multipotency is planted through the shape class alone (size is drawn independently of it), so an oracle
    that knows each cell's class scores by the likelihood ratio P(class | multipotent) / P(class | not);
    no image model can do better. Both numbers are prevalence-free, so they hold for every donor mix.
    """
    pos, neg = np.asarray(SHAPE_PROBS[True]), np.asarray(SHAPE_PROBS[False])
    order = np.argsort(-(pos / neg))
    pos, neg = pos[order], neg[order]
    # Mann-Whitney on three ordered categories: a positive outranks a negative in a later class, ties count
    # half.
    auc = float(sum(pos[i] * neg[i + 1 :].sum() + 0.5 * pos[i] * neg[i] for i in range(len(pos))))
    called = pos > neg  # the likelihood-ratio rule at threshold 1 maximises sensitivity + specificity
    balanced = float(0.5 * (pos[called].sum() + neg[~called].sum()))
    return {"roc_auc": auc, "balanced_accuracy": balanced}


@dataclass(frozen=True)
class Field:
    """One rendered field of view."""

    image: np.ndarray  # (3, H, W) uint16, channels as CHANNELS
    labels: np.ndarray  # (H, W) uint16 planted cell ids, 0 = background
    cells: pd.DataFrame  # one row per planted cell


def _texture(rng: np.random.Generator, shape: tuple[int, int], sigma: float, amplitude: float) -> np.ndarray:
    noise = ndi.gaussian_filter(rng.standard_normal(shape), sigma)
    return 1 + amplitude * noise / (noise.std() + 1e-12)


def _place(
    rng: np.random.Generator, scale: float, centres: list[tuple[float, float]], size: int
) -> tuple[float, float]:
    """Pick a centre: mostly uniform, sometimes next to an existing cell so that neighbours touch."""
    if centres and rng.random() < 0.3:
        anchor = centres[int(rng.integers(len(centres)))]
        angle = rng.uniform(0, 2 * np.pi)
        dist = scale * rng.uniform(1.6, 2.4)
        return anchor[0] + dist * np.sin(angle), anchor[1] + dist * np.cos(angle)
    margin = scale * 0.8
    return rng.uniform(margin, size - margin), rng.uniform(margin, size - margin)


def render_field(
    rng: np.random.Generator, size: int, multipotent: list[bool], blur: float = 1.0, zoom: float = 1.0
) -> Field:
    """Render one field holding (up to) one cell per entry of ``multipotent``; ``blur`` is the optics'
    Gaussian sigma in pixels of PIXEL_SIZE_UM (a focus problem: larger); ``zoom``, pixels per pixel of
    PIXEL_SIZE_UM (another objective: every length in pixels scales, ``size`` is the side after it).

    A cell that cannot be placed without overlapping others by more than a few percent is left out, so
    the realised cells are those in ``Field.cells``.
    """
    shape = (size, size)
    labels = np.zeros(shape, dtype=np.uint16)
    cd105 = np.zeros(shape)
    ssea3 = np.zeros(shape)
    dapi = np.zeros(shape)
    rows = []
    centres: list[tuple[float, float]] = []
    # One texture field per channel, shared by all cells: cheaper than one per cell and just as varied.
    tex_cd105 = _texture(rng, shape, 2.0 * zoom, 0.22)
    tex_ssea3 = _texture(rng, shape, 1.2 * zoom, 0.35)
    tex_dapi = _texture(rng, shape, 1.0 * zoom, 0.3)
    side = size / zoom  # in pixels of PIXEL_SIZE_UM
    base_scale = (side / 22 if side < 300 else 22.0) * zoom
    smallest = 40 * zoom**2
    for is_multi in multipotent:
        shape_class = SHAPE_CLASSES[int(rng.choice(3, p=SHAPE_PROBS[is_multi]))]
        scale = base_scale * rng.uniform(0.8, 1.2)
        offsets = outline(shape_class, scale, rng)
        for _attempt in range(25):
            cy, cx = _place(rng, scale, centres, size)
            rr, cc = polygon(offsets[:, 0] + cy, offsets[:, 1] + cx, shape)
            if rr.size < smallest:
                continue
            taken = labels[rr, cc] > 0
            if taken.mean() < 0.04:
                break
        else:
            continue
        free = ~taken
        rr, cc = rr[free], cc[free]
        cell_id = len(rows) + 1
        # Each cell is drawn in its own window (its outline's box and a 2-px margin, enough for the
        # opening): the same pixels as on the whole field, at a cost that does not grow with the field.
        r0, c0 = max(int(rr.min()) - 2, 0), max(int(cc.min()) - 2, 0)
        r1, c1 = min(int(rr.max()) + 3, size), min(int(cc.max()) + 3, size)
        window = (slice(r0, r1), slice(c0, c1))
        mask = np.zeros((r1 - r0, c1 - c0), dtype=bool)
        mask[rr - r0, cc - c0] = True
        mask = ndi.binary_opening(mask, iterations=1)
        if mask.sum() < smallest:
            continue
        labels[window][mask] = cell_id
        centres.append((cy, cx))
        dist = np.zeros(mask.shape)
        box = ndi.find_objects(mask.astype(np.uint8))[0]
        dist[box] = ndi.distance_transform_edt(np.pad(mask[box], 1))[1:-1, 1:-1]
        # Nucleus at the innermost point of the body, so it sits inside even bent or branched cells.
        ny, nx = np.unravel_index(int(np.argmax(dist)), mask.shape)
        ny, nx = ny + r0, nx + c0
        radius = min(dist.max() * 0.8, scale * 0.5)
        orient = rng.uniform(-np.pi, np.pi)
        er, ec = ellipse(ny, nx, radius, radius * rng.uniform(0.65, 0.9), shape=shape, rotation=orient)
        inside = (er >= r0) & (er < r1) & (ec >= c0) & (ec < c1)
        nucleus = np.zeros(mask.shape, dtype=bool)
        nucleus[er[inside] - r0, ec[inside] - c0] = True
        nucleus &= mask

        body = rng.uniform(110, 200) * np.clip(dist[mask] / (4 * zoom), 0.35, 1.0)
        cd105[window][mask] = body * tex_cd105[window][mask]
        level = float(np.clip(rng.normal(SSEA3_MEAN[is_multi], SSEA3_SD[is_multi]), 5, 245))
        ssea3[window][mask] = level * tex_ssea3[window][mask]
        dapi[window][nucleus] = rng.uniform(150, 230) * tex_dapi[window][nucleus]
        ys, xs = np.nonzero(mask)
        ys, xs = ys + r0, xs + c0
        rows.append(
            {
                "cell_id": cell_id,
                "centroid_row": float(ys.mean()),
                "centroid_col": float(xs.mean()),
                "area": int(mask.sum()),
                "shape_class": shape_class,
                "multipotent": bool(is_multi),
                "ssea3_level": round(level, 3),
            }
        )

    yy, xx = np.mgrid[0:size, 0:size] / size
    vy, vx = rng.uniform(0.3, 0.7, 2)
    illumination = 1 - 0.2 * ((yy - vy) ** 2 + (xx - vx) ** 2) / 0.5
    channels = []
    for signal, background in ((cd105, 10.0), (ssea3, 6.0), (dapi, 4.0)):
        blurred = ndi.gaussian_filter(np.clip(signal, 0, 255), blur * zoom) * illumination + background
        counts = blurred * 257.0
        noisy = counts + rng.normal(0, 1, shape) * np.sqrt(counts * 40.0 + 300.0**2)
        channels.append(np.clip(np.rint(noisy), 0, 65535).astype(np.uint16))
    cells = pd.DataFrame(
        rows,
        columns=[
            "cell_id",
            "centroid_row",
            "centroid_col",
            "area",
            "shape_class",
            "multipotent",
            "ssea3_level",
        ],
    )
    return Field(image=np.stack(channels), labels=labels, cells=cells)


def donor_flags(rng: np.random.Generator, n_cells: int, fraction: float) -> np.ndarray:
    """Exactly round(fraction * n) multipotent cells, in random order, so donors differ as planted."""
    n_multi = int(round(fraction * n_cells))
    flags = np.zeros(n_cells, dtype=bool)
    flags[:n_multi] = True
    return rng.permutation(flags)


def simulate_donor(
    seed: int,
    donor: str,
    n_fields: int,
    size: int,
    cells_per_field: int,
    fraction: float,
    blur: float = 1.0,
    pixel_size_um: float = PIXEL_SIZE_UM,
) -> list[tuple[str, Field]]:
    """All fields of one donor, named ``{donor}_field{NN}``, each ``size`` pixels of PIXEL_SIZE_UM wide
    whatever ``pixel_size_um`` it is imaged at; deterministic in (seed, donor, blur, pixel_size_um)."""
    zoom = PIXEL_SIZE_UM / pixel_size_um
    rng = np.random.default_rng([seed, *donor.encode("utf-8")])
    flags = donor_flags(rng, n_fields * cells_per_field, fraction)
    fields = []
    for i in range(n_fields):
        chunk = list(flags[i * cells_per_field : (i + 1) * cells_per_field])
        field = render_field(rng, int(round(size * zoom)), chunk, blur, zoom)
        fields.append((field_name(donor, i), field))
    return fields


def field_name(donor: str, index: int) -> str:
    return f"{donor}_field{index + 1:02d}"
