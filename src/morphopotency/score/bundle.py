"""The portable model bundle: everything a scoring run needs to treat a new donor's images exactly as the
reference donors' were, in one self-describing folder that can be copied anywhere.

Layout (no pickles: safetensors, npz read without pickle, JSON and TSV):

    cnn/model.safetensors, cnn/model.json       the final CNN and its spec, cut-off and training settings
    shape_modes/model.npz, shape_modes/model.json  the shape-mode model (assigned, never refitted)
    settings.json          every preprocessing setting a new image must go through to be comparable
    segmentation/cellpose_model.pth  the Cellpose model that segmented the reference (segmenter cellpose)
    reference/donors.tsv   the reference cohort's per-donor results
    reference/cells.tsv    per-cell shape and image-quality features, CV probabilities and the final
                           model's probabilities and roles (its val and test cells give the estimators'
                           error rates)
    reference/shape_modes.tsv  the reference donors' share of cells in each shape mode
    reference/embedding.npz  the final model's embeddings of those val and test cells, PCA-reduced, and
                           the PCA that projects a new donor's cells onto them (drift check)
    scorers/models.json    the shape and combined scorers, one per left-out donor (morphopotency.scorers)
    reference/scorer_predictions.tsv  every scorer's predictions of the donors its models left out
    metrics/scorers.tsv    every scorer's out-of-donor separation, what score.model auto chooses by
    metrics/*.tsv          the training run's metrics
    provenance.json        bundle format, code version and commit, config hash, package versions, input
                           checksums
    MANIFEST.sha256        SHA-256 of every other file (``sha256sum -c`` reads it)

``load`` checks the manifest and the versions and refuses a tampered or incompatible bundle, naming the
file at fault.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd

from morphopotency.imaging.segmented_by import Segmentation
from morphopotency.io.atomic import atomic_folder
from morphopotency.prevalence import CrossFit, choose_estimator
from morphopotency.provenance import sha256
from morphopotency.scorers import choose_scorer

# 2: reference/embedding.npz; 3: imaging resample_um and reference_pixel_size_um; 4: segmenter; 5: what
# segmented the reference donors (imaging.segmented_by: a format-4 bundle built on a lab's masks says
# watershed, so it cannot tell a scoring run which lots are cut as its reference was)
FORMAT = 5
MANIFEST = "MANIFEST.sha256"
# Optional: what the *_donor estimators move the final model's error rates by (cnn.lodo runs only).
DONOR_SHIFT = "reference/donor_shift.tsv"
# Optional (cnn.lodo runs): the leave-one-donor-out models, lodo/<donor>/model.safetensors, and their
# predictions, whose rows of the donor each left out give the cross-fitted rates (pacc_cross).
LODO_MODELS = "lodo"
LODO_PREDICTIONS = "reference/lodo_predictions.tsv"
# Not part of the bundle: the manifest itself, and the marker Snakemake puts in a directory output.
UNLISTED = {MANIFEST, ".snakemake_timestamp"}
# Optional (cnn.lodo runs): the scorers beside the CNN (morphopotency.scorers), their cross-fitted
# predictions of the donors they left out, and their comparison.
SCORER_MODELS = "scorers/models.json"
SCORER_PREDICTIONS = "reference/scorer_predictions.tsv"
SCORER_TABLE = "metrics/scorers.tsv"
# The reference donors' share of cells per shape mode (mode_1 ... mode_K): the QC report's profile figure.
REFERENCE_MODES = "reference/shape_modes.tsv"
# The Cellpose model that segmented the reference cells (imaging.segmenter cellpose): scoring runs it.
CELLPOSE_MODEL = "segmentation/cellpose_model.pth"
# Packages whose major.minor must match for the stored model to load and compute the same numbers.
PINNED = ("morphopotency", "torch", "timm", "scikit-learn", "numpy")


class BundleError(ValueError):
    """A bundle that cannot be used, naming the file at fault."""


def _minor(v: str) -> str:
    return ".".join(v.split("+")[0].split(".")[:2])


# The imaging settings a new donor's images must be processed with to be comparable with the reference's.
IMAGING_KEYS = (
    "channels",
    "bit_depth",
    "z_projection",
    "pixel_size_um",
    "resample_um",
    "segmentation",
    "segmenter",
    "cellpose",
    "cropper",
    "crop_size",
    "crop_window",
    "ssea3_region",
)
# What a bundle written before a key existed did, for the keys added since.
IMAGING_BEFORE = {"ssea3_region": "whole"}


def preprocessing_settings(
    config: Mapping[str, Any],
    cnn_meta: Mapping[str, Any],
    ssea3_cut: float | None = None,
    reference_pixel_um: float | None = None,
    source: str = "imaging",
    cellpose_sha256: str | None = None,
    segmented_by: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """From the training run's validated config and the final model's JSON: segmentation, cells, crops,
    shape-mode outline points, the CNN's input and its decision cut-off; ``ssea3_cut``, the 8-bit SSEA3
    intensity that labelled the reference cells (a scored donor's SSEA3, when imaged, is read against it);
    ``reference_pixel_um``, the reference images' median pixel size as measured (a scoring run brings new
    images to it when the training run resampled nothing); ``source``, the CNN's data (cnn.data.source):
    a model trained on a folder of labelled cells never saw this pipeline's crops; ``cellpose_sha256``, the
    checksum of the Cellpose model that segmented the reference (segmenter cellpose), shipped as
    CELLPOSE_MODEL: the model the config named (a built-in name or a file) is kept as ``source_model``;
    ``segmented_by``, what cut the reference donors' cells as their cell tables record it
    (imaging.segmented_by.by_donor)."""
    imaging = config["imaging"]
    extra = {
        "ssea3_cut_8bit": ssea3_cut,
        "reference_pixel_size_um": reference_pixel_um,
        "segmented_by": list(segmented_by or []),
    }
    kept = {key: imaging.get(key) for key in IMAGING_KEYS}
    kept["segmenter"] = imaging.get("segmenter") or "watershed"
    if kept["segmenter"] == "cellpose":
        cellpose = dict(imaging["cellpose"])
        kept["cellpose"] = cellpose | {
            "model": CELLPOSE_MODEL,
            "model_sha256": cellpose_sha256,
            "source_model": cellpose.get("source_model", cellpose["model"]),
        }
    return {
        "imaging": kept | extra,
        "shape_modes": {"n_points": imaging["shape_modes"]["n_points"]},
        "cnn": {
            "spec": cnn_meta["spec"],
            "threshold": cnn_meta["threshold"],
            "positive_class": cnn_meta.get("positive_class"),
            "data_source": source,
        },
    }


def reference_cells(
    cells: pd.DataFrame, cv: pd.DataFrame, backbone: str, final: pd.DataFrame
) -> pd.DataFrame:
    """Each reference cell's shape features and SSEA3 label, the selected backbone's cross-validated
    probability and cut-off, and the final model's probability and the cell's role in its training
    (train, val or test): the final model's error rates are measured on its val and test cells."""
    chosen = cv.loc[cv["model"] == backbone, ["cell", "fold", "prob", "threshold"]].set_index("cell")
    own = final.set_index("cell")[["role", "prob"]].rename(
        columns={"role": "final_role", "prob": "final_prob"}
    )
    return cells.join(chosen, how="left").join(own, how="left").rename_axis("cell").reset_index()


def mode_columns(distribution: pd.DataFrame) -> pd.DataFrame:
    """The training run's shape-mode distribution (donor, 1 ... K) with the columns a scoring run's
    profile has (donor, mode_1 ... mode_K)."""
    return distribution.rename(columns=lambda c: c if c == "donor" else f"mode_{c}")


def manifest_text(folder: Path) -> str:
    """``sha256sum`` lines for every file of ``folder`` but the manifest itself."""
    lines = [
        f"{sha256(p)}  {p.relative_to(folder).as_posix()}"
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in UNLISTED
    ]
    return "\n".join(lines) + "\n"


def export(
    dest: str | Path,
    files: Mapping[str, str | Path],
    settings: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    provenance: Mapping[str, Any],
) -> None:
    """Write the bundle to ``dest`` as a whole (built beside it and renamed: no half bundle is left).

    ``files``: bundle path -> source file to copy; ``tables``: bundle path -> table to write as TSV.
    """
    versions = {name: version(name) for name in PINNED}
    record = {"format": FORMAT, "versions": versions, **provenance}
    with atomic_folder(dest) as tmp:
        for name, source in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tmp / name)
        for name, table in tables.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(tmp / name, sep="\t", index=False, float_format="%.10g")
        (tmp / "settings.json").write_text(json.dumps(settings, indent=2, sort_keys=True, default=str) + "\n")
        (tmp / "provenance.json").write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
        (tmp / MANIFEST).write_text(manifest_text(tmp))


@dataclass(frozen=True)
class Bundle:
    folder: Path
    settings: dict[str, Any]
    provenance: dict[str, Any]

    def target_pixel_size(self, match: bool = True) -> float | None:
        """The pixel size a new image is brought to: the training run's imaging.resample_um, else (with
        ``match``, config score.match_pixel_size) the reference images' own; None - images as they are."""
        imaging = self.settings["imaging"]
        return imaging["resample_um"] or (imaging["reference_pixel_size_um"] if match else None)

    def path(self, name: str) -> Path:
        return self.folder / name

    def segmentation(self) -> dict[str, Any]:
        """imaging.segmenter and imaging.cellpose as a scoring run applies them: the Cellpose model is the
        bundle's own file, whose checksum the run verifies before it segments a lot."""
        imaging = self.settings["imaging"]
        found = {"segmenter": imaging["segmenter"], "cellpose": dict(imaging.get("cellpose") or {})}
        if found["segmenter"] == "cellpose":
            found["cellpose"]["model"] = str(self.path(CELLPOSE_MODEL))
        return found

    def ssea3_region(self) -> str:
        """The pixels each reference cell's SSEA3 label was measured over (imaging.cells.SSEA3_REGIONS)."""
        return str((IMAGING_BEFORE | self.settings["imaging"])["ssea3_region"])

    def reference_segmentations(self) -> list[Segmentation]:
        """What cut the reference donors' cells, as their cell tables recorded it."""
        return [Segmentation(s["kind"], s["tool"]) for s in self.settings["imaging"]["segmented_by"]]

    def segmenter_label(self) -> str:
        """The reference's segmentation in words, for flags and the QC record: what cut its donors' cells
        (the lab's masks, with the tool, where they brought them; donors named where they differ), and the
        Cellpose model with its checksum."""
        imaging = self.settings["imaging"]
        entries = imaging["segmented_by"] or [{"kind": imaging["segmenter"], "tool": "", "donors": []}]
        words = []
        for entry in entries:
            made = Segmentation(entry["kind"], entry["tool"])
            text = made.describe()
            if made.kind == "cellpose" and imaging["segmenter"] == "cellpose":
                cellpose = imaging["cellpose"]
                text = (
                    f"Cellpose, model {cellpose['source_model']} (SHA-256 {cellpose['model_sha256'][:12]}...)"
                )
            words.append(f"{text} (donors {', '.join(entry['donors'])})" if len(entries) > 1 else text)
        return "; ".join(words)

    def digest(self) -> str:
        """SHA-256 of the bundle's manifest: one number naming every file of it (a QC record cites it)."""
        return sha256(self.folder / MANIFEST)

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.folder / name, sep="\t", dtype={"donor": str, "image": str})

    def optional_table(self, name: str) -> pd.DataFrame | None:
        """A table only some bundles hold (the leave-one-donor-out validation), or None."""
        return self.table(name) if (self.folder / name).is_file() else None

    def lodo_models(self) -> dict[str, Path]:
        """donor left out -> its LODO model's weights, in donor order; empty for a bundle without them."""
        root = self.folder / LODO_MODELS
        found = sorted(root.glob("*/model.safetensors")) if root.is_dir() else []
        return {p.parent.name: p for p in found}

    def scorer_models(self) -> dict[str, dict[str, Any]]:
        """scorer -> left-out donor -> its shape or combined model (morphopotency.scorers); empty for a
        bundle without them."""
        path = self.folder / SCORER_MODELS
        return json.loads(path.read_text()) if path.is_file() else {}

    def scorers(self) -> pd.DataFrame | None:
        """Every scorer's out-of-donor separation (morphopotency.scorers.comparison), or None."""
        return self.optional_table(SCORER_TABLE)

    def crossfit(self, scorer: str = "cnn") -> CrossFit | None:
        """The cross-fitted rates of pacc_cross with ``scorer``'s models (morphopotency.scorers), or None
        where the bundle holds no LODO models (or none of that scorer)."""
        models = self.lodo_models()
        if scorer == "cnn":
            predictions = self.optional_table(LODO_PREDICTIONS)
        else:
            predictions = self.optional_table(SCORER_PREDICTIONS)
            if predictions is not None:
                predictions = predictions[predictions["scorer"] == scorer]
                named = sorted(self.scorer_models().get(scorer, {}))
                if named != sorted(models):
                    raise BundleError(
                        f"{self.folder / SCORER_MODELS}: {scorer} models of {', '.join(named) or 'no donor'} "
                        f"but LODO models of {', '.join(models)}"
                    )
        if predictions is None or predictions.empty or not models:
            return None
        # Edge weights where the reference cells carry them (bundles from before them count cells once).
        cells = self.table("reference/cells.tsv")
        weights = cells.set_index("cell")["edge_weight"] if "edge_weight" in cells else None
        fit = CrossFit.from_predictions(predictions.astype({"held_out": str}), weights)
        if list(fit.donors) != list(models):
            raise BundleError(
                f"{self.folder}: LODO models of {', '.join(models)} but predictions of "
                f"{', '.join(fit.donors)} ({LODO_PREDICTIONS})"
            )
        return fit


def folder_of(inputs: str | Path | list[str | Path]) -> Path:
    """The bundle folder behind a scoring rule's bundle inputs: this run's own bundle (the folder itself,
    a directory output) or another run's files, the first of which is its manifest. Derived from the
    inputs, not passed beside them, so a job on a node without the shared file system still finds it."""
    first = Path(inputs if isinstance(inputs, str | Path) else list(inputs)[0])
    return first.parent if first.name == MANIFEST else first


def verify(folder: str | Path) -> None:
    """Raise BundleError naming a file that is missing, added or changed since export."""
    folder = Path(folder)
    manifest = folder / MANIFEST
    if not manifest.is_file():
        raise BundleError(f"{manifest}: not found; {folder} is not a morphopotency model bundle")
    listed = {}
    for number, line in enumerate(manifest.read_text().splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name:
            raise BundleError(f"{manifest}: line {number} is not '<sha256>  <file>'")
        listed[name] = digest
    present = {
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name not in UNLISTED
    }
    for name in sorted(set(listed) - present):
        raise BundleError(f"{folder / name}: listed in {MANIFEST} but missing")
    for name in sorted(present - set(listed)):
        raise BundleError(f"{folder / name}: not in {MANIFEST} (added after export)")
    for name, digest in listed.items():
        if sha256(folder / name) != digest:
            raise BundleError(f"{folder / name}: changed since export (SHA-256 differs from {MANIFEST})")


def load(folder: str | Path, versions: Mapping[str, str] | None = None) -> Bundle:
    """The verified bundle; refuses one of another format or made with other major.minor versions of the
    packages that decide its numbers (``versions``: the installed ones, by default)."""
    folder = Path(folder)
    verify(folder)
    record = json.loads((folder / "provenance.json").read_text())
    if record.get("format") != FORMAT:
        raise BundleError(
            f"{folder / 'provenance.json'}: bundle format {record.get('format')}, this code reads {FORMAT}"
        )
    installed = dict(versions) if versions is not None else {name: version(name) for name in PINNED}
    for name in PINNED:
        made, have = record["versions"].get(name, "?"), installed.get(name, "?")
        if _minor(made) != _minor(have):
            raise BundleError(
                f"{folder / 'provenance.json'}: made with {name} {made}, installed {have}: "
                "score with the versions it was made with (constraints.txt), or export a new bundle"
            )
    settings = json.loads((folder / "settings.json").read_text())
    return Bundle(folder, settings, record)


def bundle_estimator(bundle: Bundle, settings: Mapping[str, Any]) -> tuple[str, str]:
    """(estimator, why) of a scoring run (``settings``: the config's ``score`` section): the config's; with
    auto, pacc_cross where the bundle holds the LODO models and their predictions, else by its
    leave-one-donor-out validation."""
    return choose_estimator(
        settings["estimator"],
        bundle.optional_table("metrics/lodo_validation.tsv"),
        settings["auto_max_bias"],
        cross_fitted=bool(bundle.lodo_models()) and bundle.path(LODO_PREDICTIONS).is_file(),
    )


def bundle_scorer(bundle: Bundle, settings: Mapping[str, Any]) -> tuple[str, str]:
    """(scorer, why) of a cross-fitted scoring run (``settings``: the config's ``score`` section):
    score.model, or with auto the bundle's own evidence (metrics/scorers.tsv,
    morphopotency.scorers.choose_scorer); the CNN for a bundle that holds no other scorer."""
    table = bundle.scorers()
    if table is None:
        if settings["model"] not in ("auto", "cnn"):
            raise BundleError(
                f"{bundle.folder}: score.model {settings['model']} needs the scorers of a training run with "
                f"cnn.lodo ({SCORER_TABLE}); this bundle holds the CNN alone"
            )
        return "cnn", "the bundle holds the CNN's models alone"
    try:
        return choose_scorer(settings["model"], table)
    except ValueError as error:
        raise BundleError(f"{bundle.folder}: {error}") from None
