"""The run plan: what a config and sample sheet mean (samples, donors, images, targets, report sections),
decided once, before any job, by one tested call. The Snakemake layer only asks it.

``build`` validates (every schema error with its key path, then the cross-field rules), fills the schema's
defaults, resolves the shipped resources against the workflow folder, and derives everything the rules
need. It imports neither Snakemake nor torch (timm only to check a backbone name it has not seen), so a
dry run stays fast.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from morphopotency.config import (
    ConfigError,
    check_config,
    check_input_files,
    demo_outdir,
    load_schema,
    resolve_bundled,
    with_defaults,
)
from morphopotency.prevalence import CROSS_FITTED, SHIFTED
from morphopotency.report import registry
from morphopotency.report.pdf import SCORE_PDF, pdf_planned
from morphopotency.samples import images_by_donor, read_sample_sheet

ImageSpec = str | dict[str, str]

# Keys of the `cnn` section a trained model depends on: only these reach the training rules, so changing
# e.g. `cnn.bootstrap` re-runs the summaries but no training job.
TRAINING_KEYS = (
    "device",
    "image_size",
    "in_chans",
    "dropout",
    "freeze_backbone",
    "learning_rate",
    "epochs",
    "patience",
    "min_val_roc_auc",
    "batch_size",
    "seed",
    "pretrained",
    "weights_dir",
    "threshold",
)


@dataclass(frozen=True)
class Plan:
    """What one run means; ``config`` is the validated config with every default filled in."""

    config: dict[str, Any]
    samples: pd.DataFrame = field(repr=False)
    demo: str | None
    rnaseq_table: str
    rnaseq_samples: tuple[dict[str, str], ...]
    stem_samples: tuple[str, ...]
    paired_donors: tuple[str, ...]
    gene_set_files: dict[str, str]
    enrichr: str | None
    image_donors: tuple[str, ...]
    images: dict[str, dict[str, ImageSpec]]
    # Imaged donors whose SSEA3-labelled cells train the model and fit the shape modes, and those only
    # scored (sample sheet role `score`, or every imaged donor of a scoring run with score.bundle).
    reference_donors: tuple[str, ...]
    score_donors: tuple[str, ...]
    bundle: str | None  # the model bundle the score rules read: score.bundle, or this run's results/model
    report_scale: str | None
    flags: frozenset[str]
    targets: tuple[str, ...]
    sections: tuple[dict, ...]
    notes: tuple[str, ...] = ()  # what the run leaves out and why (printed when the workflow is parsed)

    def image_files(self, donor: str, image: str) -> list[str]:
        spec = self.images[donor][image]
        return list(spec.values()) if isinstance(spec, dict) else [spec]

    def channels(self, donor: str) -> dict[str, Any]:
        """The channel roles read from one donor's images: a donor to score needs no SSEA3 channel; when
        imaged, it only validates the score (it never labels a training cell)."""
        channels = dict(self.config["imaging"]["channels"])
        if donor in self.score_donors:
            channels["optional"] = ["label"]
        return channels

    def cellpose_model_input(self) -> list[str]:
        """The Cellpose model file a run copies (its input: a new file re-segments), or nothing for a
        built-in name (fetched by Cellpose)."""
        from morphopotency.imaging.learned import is_model_file

        model = self.config["imaging"]["cellpose"]["model"]
        return [model] if is_model_file(model) else []

    def segmentation(self, donor: str) -> dict[str, str]:
        """What cuts one donor's cells (imaging.segmented_by.planned), for its cell table to record."""
        return _planned_segmentation(self.config["imaging"], donor).record()

    def label_image(self, donor: str, image: str) -> str:
        """The user's own mask when ``imaging.masks`` names one for this image, else our segmentation."""
        pattern = masks_pattern(self.config["imaging"].get("masks"), donor)
        if pattern:
            return pattern.format(donor=donor, image=image)
        return f"results/imaging/segmentation/{donor}/{image}.tif"

    def cnn_params(self, rule: str) -> dict[str, Any]:
        """The `cnn` keys one training rule uses (fold, lr_search, final or lodo), and no other."""
        cnn = self.config["cnn"]
        params = {key: cnn[key] for key in TRAINING_KEYS}
        if rule in ("lr_search", "final"):
            params["final_fold"] = cnn["final_fold"]
        if rule == "lr_search":
            params["lr_search"] = cnn["lr_search"]
        if rule == "final":
            params |= {"group_by": cnn["group_by"], "data": cnn["data"]}
        if rule == "lodo":
            # The final model measures its error rates on its validation and test cells (val_fraction +
            # 1 / folds of the cells); a LODO model measuring them on its validation cells alone (10 %, 46
            # demo cells) mis-adjusted donors by 0.15 on average, so its validation share is the same.
            params |= {
                "group_by": cnn["group_by"],
                "lodo_val_fraction": cnn["val_fraction"] + 1 / cnn["folds"],
            }
        return params

    def sample_records(self, paired_only: bool = False) -> list[dict[str, str]]:
        """sample, donor, condition of each RNA-seq sample (of the paired donors only, for DESeq2)."""
        keep = ("sample", "donor", "condition")
        return [
            {k: r[k] for k in keep}
            for r in self.rnaseq_samples
            if not paired_only or r["donor"] in self.paired_donors
        ]

    def weights_files(self, backbone: str | None = None) -> list[str]:
        """The starting-weights files of one backbone (or all): none when it starts from random weights."""
        from morphopotency.cnn.sources import weights_file

        cnn = self.config["cnn"]
        names = [backbone] if backbone else cnn["backbones"]
        return [w for w in (weights_file(cnn, b) for b in names) if w]

    def summary_inputs(self) -> dict[str, str]:
        """The per-donor tables of whichever branches run: each becomes columns of donor_summary.tsv."""
        files = {"samples": self.config["samples"]} if self.config["samples"] else {}
        if "rnaseq" in self.flags:
            files |= {
                "pca_scores": "results/rnaseq/pca/scores.tsv",
                "correlation": f"results/rnaseq/correlation/pearson_{self.report_scale}.tsv",
            }
        if "images" in self.flags:
            shapes = "results/imaging/shape_modes/"
            files |= {
                "distribution": f"{shapes}distribution.tsv",
                "modes": f"{shapes}modes.tsv",
                "assignments": f"{shapes}assignments.tsv",
            }
        if "label" in self.flags:
            files["ssea3"] = "results/imaging/ssea3_fraction.tsv"
        if "cnn" in self.flags:
            files["cnn_donors"] = "results/cnn/donor_multipotency.tsv"
        if "paired" in self.flags:
            files["heatmap"] = "results/rnaseq/differentiation/function_heatmap.tsv"
        return files

    def provenance_inputs(self) -> dict[str, list[str]]:
        """role -> files, in a fixed order so the manifest is reproducible."""
        files = {"samples": [self.config["samples"]]} if self.config["samples"] else {}
        if "rnaseq" in self.flags:
            rna = self.config["rnaseq"]
            files["expression_table"] = [self.rnaseq_table]
            files |= {key: [rna[key]] for key in ("gene_lengths", "gtf") if rna.get(key)}
            files["gene_sets"] = list(self.gene_set_files.values())
            files["markers"] = [rna["markers"]]
        files["images"] = [
            f for d in sorted(self.images) for i in sorted(self.images[d]) for f in self.image_files(d, i)
        ]
        if "folder" in self.flags:  # the labelled cells a folder-trained CNN learnt from, and their metadata
            from morphopotency.cnn.data import folder_files

            files["cnn_folder"] = [str(f) for f in folder_files(self.config["cnn"]["data"]["folder"])]
        return files


def masks_pattern(masks: str | Mapping[str, str] | None, donor: str) -> str | None:
    """The label-image pattern of one donor: ``imaging.masks`` is one pattern for every donor, or a
    mapping donor -> pattern for a cohort whose donors come with and without masks."""
    if isinstance(masks, Mapping):
        return masks.get(donor)
    return masks or None


def _fail(message: str) -> None:
    raise ConfigError(message)


def _check_training(cnn: Mapping[str, Any], cache_dir: str | Path | None) -> None:
    """What every CNN run needs, whatever its data: backbone names against timm's registry, their
    starting weights, and the learning-rate range."""
    from morphopotency.cnn.backbones import check_backbones
    from morphopotency.cnn.sources import pretrained_source

    for backbone in cnn["backbones"]:
        try:
            source = pretrained_source(cnn, backbone)
        except ValueError as error:
            raise ConfigError(f"config: {error}") from None
        if source not in ("imagenet", "none") and not (
            source.endswith(".safetensors") and Path(source).is_file()
        ):
            _fail(
                f"config: cnn.pretrained for {backbone}: {source!r} is neither imagenet, none nor an "
                "existing .safetensors file"
            )
    try:
        check_backbones(cnn["backbones"], cache_dir)
    except ValueError as error:
        raise ConfigError(f"config: {error}") from None
    if cnn["final_backbone"] not in ("auto", *cnn["backbones"]):
        _fail(
            f"config: cnn.final_backbone {cnn['final_backbone']!r} is not auto or one of cnn.backbones "
            f"({', '.join(cnn['backbones'])})"
        )
    if cnn["lr_search"]["low"] >= cnn["lr_search"]["high"]:
        _fail("config: cnn.lr_search.low must be below cnn.lr_search.high")


def _scoring_mode(config: dict[str, Any]) -> Any:
    """With ``score.bundle``: the bundle's preprocessing replaces the config's (the file layout, channel
    names and masks stay the lab's), and nothing is trained; the loaded bundle, or None without one."""
    folder = config["score"]["bundle"]
    if not folder:
        return None
    from morphopotency.score.bundle import (
        DONOR_SHIFT,
        IMAGING_BEFORE,
        IMAGING_KEYS,
        LODO_MODELS,
        BundleError,
        bundle_scorer,
        load,
    )

    try:
        bundle = load(folder)
    except BundleError as error:
        raise ConfigError(f"config: score.bundle: {error}") from None
    if bundle.settings["cnn"].get("data_source", "imaging") != "imaging":
        _fail(
            f"config: score.bundle {folder}: its CNN learnt from a folder of labelled cells "
            "(cnn.data.source: folder), not from crops this pipeline cut from images, so it cannot score "
            "images: train the reference on images (cnn.data.source: imaging) to score new lots"
        )
    # What describes the lab's files stays its own: channel names, and the pixel size of files whose
    # metadata has none (the reference's files told nothing about these).
    labs = {key: config["imaging"][key] for key in ("channels", "pixel_size_um")}
    settings = IMAGING_BEFORE | bundle.settings["imaging"]
    config["imaging"] |= {key: settings[key] for key in IMAGING_KEYS} | labs
    config["imaging"] |= bundle.segmentation()  # the bundle's segmenter, and its own Cellpose model
    config["imaging"]["resample_um"] = bundle.target_pixel_size(config["score"]["match_pixel_size"])
    config["imaging"]["shape_modes"]["n_points"] = bundle.settings["shape_modes"]["n_points"]
    if config["score"]["estimator"] == CROSS_FITTED and not bundle.lodo_models():
        _fail(
            f"config: score.estimator {CROSS_FITTED} needs the leave-one-donor-out models, which bundle "
            f"{folder} lacks ({LODO_MODELS}/: its training run had cnn.lodo false or an older version)"
        )
    if config["score"]["model"] != "auto":
        try:
            bundle_scorer(bundle, config["score"])
        except BundleError as error:
            raise ConfigError(f"config: score.model: {error}") from None
    if config["score"]["estimator"] in SHIFTED and not bundle.path(DONOR_SHIFT).is_file():
        _fail(
            f"config: score.estimator {config['score']['estimator']} needs the donor shift, which bundle "
            f"{folder} lacks ({DONOR_SHIFT}: its training run had no leave-one-donor-out validation)"
        )
    config["cnn"]["enabled"] = False
    config["report"]["enabled"] = False  # the training run's donor report; the score report replaces it
    return bundle


def _planned_images(config: Mapping[str, Any], image_donors: list[str]) -> list[str]:
    from morphopotency.simulate import planned_image_files

    demo = demo_outdir(config)
    if demo is None:
        return []
    fractions = config["demo"].get("multipotent_fraction", {})
    unplanted = [d for d in image_donors if d not in fractions]
    if unplanted:
        _fail(
            f"config: demo.multipotent_fraction has no value for donor(s) {', '.join(unplanted)} "
            "that have images in the sample sheet"
        )
    fields = config["demo"]["fields_per_donor"]
    return [str(f) for d in image_donors for f in planned_image_files(demo / "images" / d, d, fields)]


def _rnaseq_targets(
    config: Mapping[str, Any], gene_sets: Mapping[str, str], flags: frozenset[str]
) -> list[str]:
    if "rnaseq" not in flags:
        return []
    r = "results/rnaseq/"
    targets = [f"{r}expression/rpkm.tsv"]
    targets += [
        f"{r}correlation/pearson_{s}.{ext}"
        for s in config["rnaseq"]["correlation"]["scales"]
        for ext in ("tsv", "png")
    ]
    targets.append(f"{r}stemness/dotplot.png")
    targets += [
        f"{r}pca/{f}"
        for f in (
            "variance.tsv",
            "scores.tsv",
            "loadings.tsv",
            "pc1_genes.tsv",
            "scree.png",
            "biplot.png",
            "loadings_plot.png",
        )
    ]
    targets += [f"{r}enrichment/go_{c}.{ext}" for c in gene_sets for ext in ("tsv", "png")]
    targets += [f"{r}enrichment/go_{c}_network.png" for c in gene_sets]
    if "differentiated" in flags:
        targets += [f"{r}differentiation/pca.png", f"{r}differentiation/pearson.png"]
    if "paired" in flags:
        targets.append(f"{r}differentiation/function_heatmap.png")
    if "deseq2" in flags:
        targets.append(f"{r}differentiation/deseq2.tsv")
    return targets


def _imaging_targets(
    images: Mapping[str, Mapping[str, Any]], flags: frozenset[str], cropper: str, masks: Any = None
) -> list[str]:
    if not images:
        return []
    i = "results/imaging/"
    targets = [f"{i}shape_modes/assignments.tsv", f"{i}shape_modes/distribution.png", f"{i}image_qc.tsv"]
    if "label" in flags:  # without SSEA3 no labels, the rest runs
        targets.append(f"{i}ssea3_fraction.tsv")
    if "segmentation" in flags:
        targets += [
            f"{i}segmentation/{d}/{im}.png"
            for d in sorted(images)
            if masks_pattern(masks, d) is None
            for im in sorted(images[d])
        ]
    if cropper == "selective_search":
        targets += [f"{i}crops_selective_search/{d}.npy" for d in sorted(images)]
    return targets


CNN_TARGETS = (
    "comparison.tsv",
    "baselines.tsv",
    "roc.png",
    "lr_search/surrogate.png",
    "lr_search/roc_auc.png",
    "final/confusion.png",
    "final/examples.png",
    "donor_multipotency.tsv",
    "donor_multipotency.png",
)


EMPTY_SHEET = ("sample", "donor", "condition", "rnaseq_column", "images", "role")


@dataclass(frozen=True)
class Branch:
    """What one branch's planner decided: the flags it raises, the files it targets, and its own fields."""

    flags: frozenset[str] = frozenset()
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class RnaseqBranch(Branch):
    samples: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)  # rows with an RNA-seq column
    table: str = ""
    stem: tuple[str, ...] = ()
    paired: tuple[str, ...] = ()
    gene_sets: dict[str, str] = field(default_factory=dict)
    enrichr: str | None = None
    scales: tuple[str, ...] = ()
    scale: str | None = None


@dataclass(frozen=True)
class ImagingBranch(Branch):
    donors: tuple[str, ...] = ()  # sample-sheet donors with images
    images: dict[str, dict[str, ImageSpec]] = field(default_factory=dict)
    planned: tuple[str, ...] = ()  # the demo's image files, made by the workflow


@dataclass(frozen=True)
class ScoringBranch(Branch):
    reference: tuple[str, ...] = ()
    to_score: tuple[str, ...] = ()
    bundle: str | None = None
    notes: tuple[str, ...] = ()


def plan_rnaseq(config: dict[str, Any], samples: pd.DataFrame) -> RnaseqBranch:
    """The RNA-seq branch: runs when the config has an ``rnaseq`` section and the sheet names RNA-seq
    columns; without either, the other branches run on their own. Resolves report.correlation_scale in
    ``config`` (the captions state it)."""
    rna_cfg = config.get("rnaseq")
    rna = samples[samples["rnaseq_column"] != ""] if rna_cfg else samples.iloc[:0]
    if rna.empty:
        return RnaseqBranch(samples=rna)
    stem = list(rna.loc[rna["condition"] == "stem", "sample"])
    # Donors with both a stem and a differentiated sample; DESeq2's ~ donor + condition needs two or more.
    paired = sorted(
        set(rna.loc[rna["condition"] == "stem", "donor"])
        & set(rna.loc[rna["condition"] == "differentiated", "donor"])
    )
    if bool(rna_cfg.get("table")) == bool(rna_cfg.get("geo")):
        _fail("config: give exactly one of rnaseq.table (a local file) or rnaseq.geo (accession and file)")
    geo = rna_cfg.get("geo") or {}
    table = rna_cfg.get("table") or f"resources/geo/{geo['accession']}/{geo['file']}"
    if len(stem) < 2:
        _fail(f"{config['samples']}: the RNA-seq branch needs at least 2 stem samples with an rnaseq_column")
    enrichr = rna_cfg["enrichment"].get("enrichr_library")
    gene_sets = dict(rna_cfg["gene_sets"])
    if enrichr:
        gene_sets["enrichr"] = f"resources/enrichr/{enrichr}.gmt"
    scales = rna_cfg["correlation"]["scales"]
    scale = config["report"]["correlation_scale"] or scales[0]
    if scale not in scales:
        _fail(
            f"config: report.correlation_scale {scale!r} is not one of rnaseq.correlation.scales "
            f"({', '.join(scales)})"
        )
    config["report"]["correlation_scale"] = scale
    flags = {"rnaseq"}
    if (rna["condition"] == "differentiated").any():
        flags.add("differentiated")
    if paired:
        flags.add("paired")
    if len(paired) >= 2 and rna_cfg["values"] == "counts":
        flags.add("deseq2")
    return RnaseqBranch(
        flags=frozenset(flags),
        targets=tuple(_rnaseq_targets(config, gene_sets, frozenset(flags))),
        samples=rna,
        table=table,
        stem=tuple(stem),
        paired=tuple(paired),
        gene_sets=gene_sets,
        enrichr=enrichr,
        scales=tuple(scales),
        scale=scale,
    )


def _planned_segmentation(imaging: Mapping[str, Any], donor: str) -> Any:
    from morphopotency.imaging.segmented_by import planned

    pattern = masks_pattern(imaging.get("masks"), donor)
    return planned(donor, imaging["segmenter"], imaging["cellpose"], pattern, imaging.get("masks_tool"))


def segmentation_notes(
    imaging: Mapping[str, Any], reference: Sequence[str], to_score: Sequence[str], bundle: Any = None
) -> tuple[str, ...]:
    """Lots the run will hold because they are cut otherwise than the reference (the bundle's record, or
    this run's reference donors'), said before any job runs. Masks of no named tool are compared at
    scoring time, when their files' tags are read."""
    from morphopotency.imaging.segmented_by import mismatch

    if bundle is not None:
        made = bundle.reference_segmentations()
    else:
        made = list(dict.fromkeys(_planned_segmentation(imaging, d) for d in reference))
    notes = []
    for donor in to_score:
        why = mismatch([_planned_segmentation(imaging, donor)], made)
        if why:
            notes.append(f"lot {donor} will be held: {why} (imaging.masks, imaging.masks_tool)")
    return tuple(notes)


def segmenter_notes(imaging: Mapping[str, Any]) -> tuple[str, ...]:
    """A note where Cellpose segments but is not installed here: the run stops at its first Cellpose job
    unless that job gets an env of its own (--software-deployment-method conda, envs/cellpose.yaml)."""
    import importlib.util

    if imaging["segmenter"] != "cellpose" or importlib.util.find_spec("cellpose") is not None:
        return ()
    from morphopotency.imaging.learned import INSTALL

    return (f"imaging.segmenter is cellpose, and Cellpose is not installed in this environment: {INSTALL}",)


def _check_segmenter(imaging: Mapping[str, Any]) -> None:
    """A Cellpose model given as a file must exist; a built-in name is checked when fetched (by Cellpose,
    which need not be installed where a run is only planned)."""
    from morphopotency.imaging.learned import is_model_file

    model = imaging["cellpose"]["model"]
    if imaging["segmenter"] == "cellpose" and is_model_file(model) and not Path(model).is_file():
        _fail(f"config: imaging.cellpose.model: file not found: {model}")


def plan_imaging(config: Mapping[str, Any], samples: pd.DataFrame) -> ImagingBranch:
    """The imaging branch: the sheet's donors with images (the demo's planned files among them)."""
    donors = sorted(samples.loc[samples["images"] != "", "donor"])
    planned = _planned_images(config, donors)
    try:
        found = images_by_donor(samples, planned, config["imaging"].get("channel_pattern"))
    except ConfigError as error:
        raise ConfigError(f"{config['samples']}: {error}") from None
    images = {
        d: {i: ({c: str(f) for c, f in s.items()} if isinstance(s, dict) else str(s)) for i, s in ims.items()}
        for d, ims in found.items()
    }
    imaging = config["imaging"]
    masks = imaging.get("masks")
    if isinstance(masks, Mapping) and set(masks) - set(images):
        _fail(
            f"config: imaging.masks names donor(s) {', '.join(sorted(set(masks) - set(images)))} that have "
            f"no images in {config['samples']}"
        )
    _check_segmenter(imaging)
    flags = set()
    if images:
        flags.add("images")
        if imaging["channels"].get("label") is not None:
            flags.add("label")
        if any(masks_pattern(masks, donor) is None for donor in images):
            flags.add("segmentation")
        if demo_outdir(config) is not None:
            flags.add("simulation")
    return ImagingBranch(
        flags=frozenset(flags),
        targets=tuple(_imaging_targets(images, frozenset(flags), imaging["cropper"], masks)),
        donors=tuple(donors),
        images=images,
        planned=tuple(planned),
    )


def plan_cnn(config: Mapping[str, Any], imaging: ImagingBranch, cache_dir: str | Path | None) -> Branch:
    """The CNN: one planner per data source, each checking what its source needs."""
    cnn = config["cnn"]
    if not cnn["enabled"]:
        return Branch()
    _check_training(cnn, cache_dir)
    planner = _cnn_from_folder if cnn["data"]["source"] == "folder" else _cnn_from_imaging
    return planner(config, imaging)


def _cnn_from_imaging(config: Mapping[str, Any], imaging: ImagingBranch) -> Branch:
    """The imaging branch's crops with their SSEA3 labels; the leave-one-donor-out validation needs the
    donors these cells come from."""
    if not imaging.images:
        _fail(
            "config: cnn.data.source is imaging but no sample has images "
            "(set cnn.enabled: false, or cnn.data.source: folder)"
        )
    if "label" not in imaging.flags:
        _fail(
            "config: the CNN learns SSEA3 labels but imaging.channels.label is null "
            "(set cnn.enabled: false, or cnn.data.source: folder)"
        )
    flags = {"cnn", "lodo"} if config["cnn"]["lodo"] else {"cnn"}
    targets = [f"results/cnn/{t}" for t in CNN_TARGETS] + ["results/model"]
    if "lodo" in flags:
        targets += [f"results/cnn/lodo/{n}" for n in ("fractions.tsv", "validation.tsv", "validation.png")]
        targets.append("results/cnn/scorers/comparison.tsv")
    return Branch(frozenset(flags), tuple(targets))


def _cnn_from_folder(config: Mapping[str, Any], imaging: ImagingBranch) -> Branch:
    """A folder of labelled single-cell images (a CellProfiler export, imaging flow cytometry): no sample
    sheet or images needed. Its bundle records the source; the crops were not cut by this pipeline's
    segmentation, so no scoring run takes images with it. No leave-one-donor-out validation: a folder
    names donors only through an optional metadata.tsv."""
    folder = config["cnn"]["data"]["folder"]
    if not (folder and Path(folder).is_dir()):
        _fail(f"config: cnn.data.folder: not a folder: {folder}")
    targets = [f"results/cnn/{t}" for t in CNN_TARGETS] + ["results/model"]
    return Branch(frozenset({"cnn", "folder"}), tuple(targets))


def plan_scoring(
    config: Mapping[str, Any],
    samples: pd.DataFrame,
    images: Mapping[str, Any],
    flags: frozenset[str],
    scoring: bool,
    browser: str | None = None,
) -> ScoringBranch:
    """Which imaged donors train (reference) and which are only scored: every one of a scoring run with
    score.bundle, else those of sample-sheet role ``score``, scored by the bundle this run trains; the QC
    report's PDF where score.pdf asks for it and ``browser`` (a Chromium found on PATH) can print it."""
    model, estimator = config["score"]["model"], config["score"]["estimator"]
    if model not in ("auto", "cnn") and estimator not in ("auto", CROSS_FITTED):
        _fail(
            f"config: score.model {model} scores cells for the cross-fitted estimator; score.estimator "
            f"{estimator} counts the final CNN's calls (set score.estimator: auto or {CROSS_FITTED})"
        )
    roles = samples.loc[samples["images"] != ""].set_index("donor")["role"]
    to_score = sorted(images) if scoring else sorted(d for d in images if roles.get(d) == "score")
    reference = [d for d in sorted(images) if d not in to_score]
    if scoring:
        if not images:
            _fail(f"{config['samples']}: score.bundle is set but no sample has images to score")
        bundle = config["score"]["bundle"]
    elif to_score:
        # A mixed run: the reference donors train the model bundle that then scores the others.
        if "cnn" not in flags or "label" not in flags or config["cnn"]["data"]["source"] != "imaging":
            _fail(
                f"{config['samples']}: donor(s) {', '.join(to_score)} have role score, which needs a model: "
                "train one here (cnn.enabled, an SSEA3 channel, cnn.data.source: imaging) or set "
                "score.bundle to a trained run's results/model"
            )
        if not reference:
            _fail(f"{config['samples']}: every imaged donor has role score; no reference donor to train on")
        if config["score"]["model"] not in ("auto", "cnn") and "lodo" not in flags:
            _fail(
                f"config: score.model {config['score']['model']} is one model per left-out reference donor, "
                "and cnn.lodo is false"
            )
        if config["score"]["estimator"] in (*SHIFTED, CROSS_FITTED) and "lodo" not in flags:
            _fail(
                f"config: score.estimator {config['score']['estimator']} needs the leave-one-donor-out "
                "models, and cnn.lodo is false"
            )
        bundle = "results/model"
    else:
        return ScoringBranch(reference=tuple(reference))
    targets = ("results/score/donor_scores.tsv", "results/report/score_report.html")
    pdf, note = pdf_planned(config["score"]["pdf"], browser)
    if pdf:
        targets += (SCORE_PDF,)
    notes = (note,) if note else ()
    return ScoringBranch(frozenset({"score"}), targets, tuple(reference), tuple(to_score), bundle, notes)


def plan_report(config: Mapping[str, Any]) -> Branch:
    if not config["report"]["enabled"]:
        return Branch()
    targets = ("results/report/donor_report.html", "results/report/donor_summary.tsv")
    return Branch(frozenset({"report"}), targets)


def plan_demo(config: Mapping[str, Any], imaging: ImagingBranch, rnaseq: RnaseqBranch) -> Branch:
    demo = demo_outdir(config)
    if demo is None:
        return Branch()
    targets = [str(demo / "truth/donors.tsv"), *imaging.planned]
    if "rnaseq" in rnaseq.flags:
        targets += [str(demo / "rnaseq/demo_counts.tsv.gz"), str(demo / "rnaseq/gene_lengths.tsv")]
    return Branch(targets=tuple(targets))


def _sample_sheet(config: Mapping[str, Any], schemas: Path, samples: pd.DataFrame | None) -> pd.DataFrame:
    """The sheet as read (or given); none is needed by a CNN trained on a folder of labelled cells."""
    if samples is None and config["samples"] is None:
        cnn = config["cnn"]
        if not (cnn["enabled"] and cnn["data"]["source"] == "folder"):
            _fail(
                "config: samples: no sample sheet given; only a CNN trained on a folder of labelled cells "
                "(cnn.data.source: folder) runs without one"
            )
        return pd.DataFrame(columns=list(EMPTY_SHEET), dtype=str)
    if samples is None:
        samples = read_sample_sheet(config["samples"], load_schema(schemas / "samples.schema.yaml"))
    if "role" not in samples:  # a sheet read elsewhere, without the optional column
        samples = samples.assign(role="reference")
    return samples


def build(
    config: Mapping[str, Any],
    basedir: str | Path,
    schemas: str | Path | None = None,
    samples: pd.DataFrame | None = None,
    cache_dir: str | Path | None = None,
    browser: str | None = None,
) -> Plan:
    """The plan for ``config`` (as loaded from YAML; not modified): each branch planned on its own
    (RNA-seq, imaging, the CNN by its data source, scoring, report, demo), then joined.

    ``basedir`` is the workflow's folder, where shipped resources and the schemas live; ``samples`` a sheet
    already read (else ``config['samples']``); ``cache_dir`` keeps the backbone names timm accepted (see
    cnn.backbones); ``browser``: the Chromium that prints the QC report's PDF (report.pdf.find_browser),
    None where there is none. Raises ConfigError naming the key, file or line at fault."""
    schemas = Path(schemas) if schemas else Path(basedir) / "workflow" / "schemas"
    schema = load_schema(schemas / "config.schema.yaml")
    config = copy.deepcopy(dict(config))
    check_config(config, schema, source="config", files=False)
    config = with_defaults(config, schema)
    resolve_bundled(config, basedir)
    check_input_files(config, schema, source="config (with defaults)")
    bundle = _scoring_mode(config)
    scoring = bundle is not None
    samples = _sample_sheet(config, schemas, samples)

    rnaseq = plan_rnaseq(config, samples)
    imaging = plan_imaging(config, samples)
    cnn = plan_cnn(config, imaging, cache_dir)
    if not (imaging.images or "rnaseq" in rnaseq.flags or "folder" in cnn.flags):
        _fail(
            f"{config['samples']}: no sample has images or an rnaseq_column (with an rnaseq section), "
            "and no CNN learns from a folder of cells (cnn.data.source: folder): nothing to analyse"
        )
    flags = rnaseq.flags | imaging.flags | cnn.flags
    if scoring:
        # Scoring reads only the shape channel (DAPI when present seeds the segmentation); SSEA3 is not
        # needed, and no shape modes are fitted: the bundle's are assigned (CNN and report are off).
        flags = flags - {"label", "simulation"}
    score = plan_scoring(config, samples, imaging.images, flags, scoring, browser)
    report = plan_report(config)
    demo = plan_demo(config, imaging, rnaseq)
    flags = flags | score.flags | report.flags
    imaging_targets = imaging.targets
    if scoring:  # the bundle's shape modes are assigned, none fitted
        fitted = (
            "results/imaging/shape_modes/assignments.tsv",
            "results/imaging/shape_modes/distribution.png",
        )
        imaging_targets = tuple(
            t
            for t in _imaging_targets(
                imaging.images, flags, config["imaging"]["cropper"], config["imaging"].get("masks")
            )
            if t not in fitted
        )
    targets = [
        "results/provenance/inputs.tsv",
        *rnaseq.targets,
        *imaging_targets,
        *score.targets,
        *cnn.targets,
        *report.targets,
        *demo.targets,
    ]
    first = (score.reference or score.to_score or (None,))[0]
    values = {
        "scale": list(rnaseq.scales),
        "collection": list(rnaseq.gene_sets),
        "donor": [first] if first else [],
        "image": [sorted(imaging.images[first])[0]] if first else [],
    }
    return Plan(
        config=config,
        samples=samples,
        demo=None if demo_outdir(config) is None else str(demo_outdir(config)),
        rnaseq_table=rnaseq.table,
        rnaseq_samples=tuple(
            rnaseq.samples[["sample", "donor", "condition", "rnaseq_column"]].to_dict("records")
        ),
        stem_samples=rnaseq.stem,
        paired_donors=rnaseq.paired,
        gene_set_files=rnaseq.gene_sets,
        enrichr=rnaseq.enrichr,
        image_donors=imaging.donors,
        images=imaging.images,
        reference_donors=score.reference,
        score_donors=score.to_score,
        bundle=score.bundle,
        report_scale=rnaseq.scale,
        flags=frozenset(flags),
        targets=tuple(targets),
        sections=tuple(registry.sections(frozenset(flags), values)),
        notes=score.notes
        + segmenter_notes(config["imaging"])
        + segmentation_notes(config["imaging"], score.reference, score.to_score, bundle),
    )
