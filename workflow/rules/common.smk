# Configuration and sample sheet: validated here, before any job is scheduled, so that a typo or a bad
# row stops the run with a message naming the key, file or line.

import os
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from morphopotency.cnn.sources import weights_file
from morphopotency.config import ConfigError, check_config, check_input_files, demo_outdir, load_schema, resolve_bundled
from morphopotency.samples import images_by_donor, read_sample_sheet
from morphopotency.simulate import planned_image_files

SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"

# Scripts import the morphopotency library from this checkout, in the venv or in a per-rule conda env
# (envs/*.yaml hold only its dependencies). Script jobs inherit this variable, and every cluster job
# re-reads this file, so it holds there too.
# (Set, not required from the user, so no `envvars:` directive.)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (str(Path(workflow.basedir) / "src"), os.environ.get("PYTHONPATH")) if p))
ID = "[A-Za-z0-9_-]+"

wildcard_constraints:
    donor=ID,
    sample=ID,
    image=ID,


def by_attempt(base_mb):
    """Memory that grows with each retry (profiles/slurm retries twice), so a job killed for memory gets more."""
    return lambda wildcards, attempt: base_mb * attempt


def segmentation_mem_mb(wildcards, input, attempt):
    # Every channel as float64 plus smoothed, background and watershed copies: ~40x the uint16 image file.
    return int((1000 + 40 * input.size_mb) * attempt)


def _fail(error):
    # A WorkflowError prints as a plain message rather than a Python traceback.
    raise WorkflowError(str(error))


CONFIG_SCHEMA = load_schema(SCHEMAS / "config.schema.yaml")
try:
    check_config(config, CONFIG_SCHEMA, source="config")
    validate(config, SCHEMAS / "config.schema.yaml", set_default=True)
    resolve_bundled(config, workflow.basedir)
    check_input_files(config, CONFIG_SCHEMA, source="config (with defaults)")
    SAMPLES = read_sample_sheet(config["samples"], load_schema(SCHEMAS / "samples.schema.yaml"))
    validate(SAMPLES, SCHEMAS / "samples.schema.yaml")
except ConfigError as error:
    _fail(error)

DEMO = demo_outdir(config)

# RNA-seq table: a local file, or a GEO supplementary file downloaded once into resources/geo/.
_rna = config["rnaseq"]
if bool(_rna.get("table")) == bool(_rna.get("geo")):
    _fail(ConfigError("config: give exactly one of rnaseq.table (a local file) or rnaseq.geo (accession and file)"))
RNASEQ_TABLE = _rna["table"] if _rna.get("table") else f"resources/geo/{_rna['geo']['accession']}/{_rna['geo']['file']}"
RNASEQ_SAMPLES = SAMPLES[SAMPLES["rnaseq_column"] != ""]
STEM_SAMPLES = list(RNASEQ_SAMPLES.loc[RNASEQ_SAMPLES["condition"] == "stem", "sample"])
HAS_DIFFERENTIATED = (RNASEQ_SAMPLES["condition"] == "differentiated").any()
# Donors with both a stem and a differentiated sample; DESeq2's ~ donor + condition needs two or more.
PAIRED_DONORS = sorted(
    set(RNASEQ_SAMPLES.loc[RNASEQ_SAMPLES["condition"] == "stem", "donor"])
    & set(RNASEQ_SAMPLES.loc[RNASEQ_SAMPLES["condition"] == "differentiated", "donor"])
)
if len(STEM_SAMPLES) < 2:
    _fail(ConfigError(f"{config['samples']}: the RNA-seq branch needs at least 2 stem samples with an rnaseq_column"))
ENRICHR = _rna["enrichment"].get("enrichr_library")
GENE_SET_FILES = dict(_rna["gene_sets"])
if ENRICHR:
    GENE_SET_FILES["enrichr"] = f"resources/enrichr/{ENRICHR}.gmt"
IMAGE_DONORS = sorted(SAMPLES.loc[SAMPLES["images"] != "", "donor"])
if DEMO is not None:
    _fractions = config["demo"].get("multipotent_fraction", {})
    _unplanted = [d for d in IMAGE_DONORS if d not in _fractions]
    if _unplanted:
        _fail(ConfigError(f"config: demo.multipotent_fraction has no value for donor(s) {', '.join(_unplanted)} "
                          "that have images in the sample sheet"))
    DEMO_FIELDS = config["demo"]["fields_per_donor"]
    PLANNED_IMAGES = [
        f for d in IMAGE_DONORS for f in planned_image_files(DEMO / "images" / d, d, DEMO_FIELDS)
    ]
else:
    PLANNED_IMAGES = []

try:
    IMAGES = images_by_donor(SAMPLES, PLANNED_IMAGES, config["imaging"].get("channel_pattern"))
except ConfigError as error:
    _fail(ConfigError(f"{config['samples']}: {error}"))


_cnn = config["cnn"]
if _cnn["enabled"]:
    # Imported only when the CNN runs: timm and torch take seconds to load.
    from morphopotency.cnn.model import check_backbone
    from morphopotency.cnn.sources import pretrained_source

    if _cnn["data"]["source"] == "imaging" and not IMAGES:
        _fail(ConfigError("config: cnn.data.source is imaging but no sample has images (set cnn.enabled: false, or cnn.data.source: folder)"))
    if _cnn["data"]["source"] == "imaging" and config["imaging"]["channels"].get("label") is None:
        _fail(ConfigError("config: the CNN learns SSEA3 labels but imaging.channels.label is null (set cnn.enabled: false, or cnn.data.source: folder)"))
    if _cnn["data"]["source"] == "folder" and not (_cnn["data"]["folder"] and Path(_cnn["data"]["folder"]).is_dir()):
        _fail(ConfigError(f"config: cnn.data.folder: not a folder: {_cnn['data']['folder']}"))
    for _backbone in _cnn["backbones"]:
        try:
            _source = pretrained_source(_cnn, _backbone)
            check_backbone(_backbone)
        except ValueError as error:
            _fail(ConfigError(f"config: {error}"))
        if _source not in ("imagenet", "none") and not (_source.endswith(".safetensors") and Path(_source).is_file()):
            _fail(ConfigError(f"config: cnn.pretrained for {_backbone}: {_source!r} is neither imagenet, none nor an existing .safetensors file"))
    if _cnn["final_backbone"] not in ("auto", *_cnn["backbones"]):
        _fail(ConfigError(f"config: cnn.final_backbone {_cnn['final_backbone']!r} is not auto or one of cnn.backbones ({', '.join(_cnn['backbones'])})"))
    if _cnn["lr_search"]["low"] >= _cnn["lr_search"]["high"]:
        _fail(ConfigError("config: cnn.lr_search.low must be below cnn.lr_search.high"))

PROVENANCE_INPUTS = "results/provenance/inputs.tsv"

REPORT = config["report"]
REPORT_DIR = "results/report"
REPORT_SCALE = REPORT["correlation_scale"] or config["rnaseq"]["correlation"]["scales"][0]
if REPORT_SCALE not in config["rnaseq"]["correlation"]["scales"]:
    _fail(ConfigError(f"config: report.correlation_scale {REPORT_SCALE!r} is not one of rnaseq.correlation.scales ({', '.join(config['rnaseq']['correlation']['scales'])})"))


def provenance_inputs():
    """role -> files, in a fixed order so the manifest is reproducible."""
    files = {"samples": [config["samples"]], "expression_table": [RNASEQ_TABLE]}
    for key in ("gene_lengths", "gtf"):
        if config["rnaseq"].get(key):
            files[key] = [config["rnaseq"][key]]
    files["gene_sets"] = list(GENE_SET_FILES.values())
    files["markers"] = [config["rnaseq"]["markers"]]
    files["images"] = [f for donor in sorted(IMAGES) for image in sorted(IMAGES[donor]) for f in image_files(donor, image)]
    return files


def demo_targets():
    return [
        str(DEMO / "truth/donors.tsv"),
        str(DEMO / "rnaseq/demo_counts.tsv.gz"),
        str(DEMO / "rnaseq/gene_lengths.tsv"),
        *map(str, PLANNED_IMAGES),
    ]


def rnaseq_targets():
    pca = "results/rnaseq/pca/"
    targets = [
        "results/rnaseq/expression/rpkm.tsv",
        *expand("results/rnaseq/correlation/pearson_{scale}.{ext}", scale=config["rnaseq"]["correlation"]["scales"], ext=["tsv", "png"]),
        "results/rnaseq/stemness/dotplot.png",
        *[pca + f for f in ("variance.tsv", "scores.tsv", "loadings.tsv", "pc1_genes.tsv", "scree.png", "biplot.png", "loadings_plot.png")],
        *expand("results/rnaseq/enrichment/go_{collection}.{ext}", collection=GENE_SET_FILES, ext=["tsv", "png"]),
        *expand("results/rnaseq/enrichment/go_{collection}_network.png", collection=GENE_SET_FILES),
    ]
    if HAS_DIFFERENTIATED:
        targets += ["results/rnaseq/differentiation/pca.png", "results/rnaseq/differentiation/pearson.png"]
    if PAIRED_DONORS:
        targets.append("results/rnaseq/differentiation/function_heatmap.png")
    if len(PAIRED_DONORS) >= 2 and config["rnaseq"]["values"] == "counts":
        targets.append("results/rnaseq/differentiation/deseq2.tsv")
    return targets


def image_spec(donor, image):
    """A file, or channel -> file when each channel is saved apart (imaging.channel_pattern)."""
    spec = IMAGES[donor][image]
    return {c: str(f) for c, f in spec.items()} if isinstance(spec, dict) else str(spec)


def image_files(donor, image):
    spec = image_spec(donor, image)
    return list(spec.values()) if isinstance(spec, dict) else [spec]


def image_path(wildcards):
    return image_files(wildcards.donor, wildcards.image)


def label_image(donor, image):
    """The user's own mask when imaging.masks names one for this image, else our segmentation."""
    pattern = config["imaging"].get("masks")
    if pattern:
        return pattern.format(donor=donor, image=image)
    return f"results/imaging/segmentation/{donor}/{image}.tif"


def donor_images(wildcards):
    ids = sorted(IMAGES[wildcards.donor])
    return {"images": [f for i in ids for f in image_files(wildcards.donor, i)], "labels": [label_image(wildcards.donor, i) for i in ids]}


def imaging_targets():
    if not IMAGES:
        return []
    targets = ["results/imaging/shape_modes/assignments.tsv", "results/imaging/shape_modes/distribution.png"]
    if config["imaging"]["channels"].get("label") is not None:  # without SSEA3 no labels, the rest runs
        targets.append("results/imaging/ssea3_fraction.tsv")
    if not config["imaging"].get("masks"):
        targets += [f"results/imaging/segmentation/{d}/{i}.png" for d in sorted(IMAGES) for i in sorted(IMAGES[d])]
    if config["imaging"]["cropper"] == "selective_search":
        targets += [f"results/imaging/crops_selective_search/{d}.npy" for d in sorted(IMAGES)]
    return targets


CNN = config["cnn"]
CNN_DIR = "results/cnn"
CNN_DATA = {"crops": f"{CNN_DIR}/data/crops.npy", "cells": f"{CNN_DIR}/data/cells.tsv", "splits": f"{CNN_DIR}/data/splits.tsv"}


def cnn_weight_inputs(wildcards=None):
    """Every backbone's weights file: the comparison picks the final backbone only at run time."""
    return [w for w in (weights_file(CNN, b) for b in CNN["backbones"]) if w]


def cnn_fold_weights(wildcards):
    w = weights_file(CNN, wildcards.backbone)
    return [w] if w else []


def cnn_dataset_inputs(wildcards):
    if CNN["data"]["source"] == "folder":
        return []
    donors = sorted(IMAGES)
    return {
        "cells": [f"results/imaging/cells/{d}.h5ad" for d in donors],
        "crops": [f"results/imaging/crops/{d}.npy" for d in donors],
        "labels": "results/imaging/ssea3_labels.tsv",
    }


def cnn_targets():
    cnn = config["cnn"]
    if not cnn["enabled"]:
        return []
    return [
        "results/cnn/comparison.tsv",
        "results/cnn/baselines.tsv",
        "results/cnn/roc.png",
        "results/cnn/lr_search/surrogate.png",
        "results/cnn/lr_search/roc_auc.png",
        "results/cnn/final/confusion.png",
        "results/cnn/final/examples.png",
        "results/cnn/donor_multipotency.tsv",
        "results/cnn/donor_multipotency.png",
    ]


def report_summary_inputs(wildcards=None):
    """The per-donor tables of whichever branches run: each becomes columns of donor_summary.tsv."""
    files = {
        "samples": config["samples"],
        "pca_scores": "results/rnaseq/pca/scores.tsv",
        "correlation": f"results/rnaseq/correlation/pearson_{REPORT_SCALE}.tsv",
    }
    if IMAGES:
        shapes = "results/imaging/shape_modes/"
        files |= {"distribution": f"{shapes}distribution.tsv", "modes": f"{shapes}modes.tsv", "assignments": f"{shapes}assignments.tsv"}
        if config["imaging"]["channels"].get("label") is not None:
            files["ssea3"] = "results/imaging/ssea3_fraction.tsv"
    if CNN["enabled"]:
        files["cnn_donors"] = "results/cnn/donor_multipotency.tsv"
    if PAIRED_DONORS:
        files["heatmap"] = "results/rnaseq/differentiation/function_heatmap.tsv"
    return files


def _fig(path, caption):
    return {"path": path, "caption": f"workflow/report/{caption}.rst"}


def _tab(path, caption=None, rows=25):
    return {"path": path, "caption": f"workflow/report/{caption}.rst" if caption else None, "rows": rows}


def report_sections():
    """The report's sections in the paper's order, each only when its branch runs; paths and rst captions
    are the ones Snakemake's own report uses for the same files."""
    R, I, C, D = "results/rnaseq/", "results/imaging/", "results/cnn/", f"{REPORT_DIR}/"
    sections = [{"id": "donors", "title": "Donors: imaging and transcriptome side by side", "figures": [_fig(f"{D}agreement.png", "report_agreement")],
                 "tables": [_tab(f"{D}donor_summary.tsv", "report_donor_summary", 50), _tab(f"{D}agreement.tsv", "report_agreement", 50)]}]
    sections.append({"id": "correlation", "title": "Donor correlation (Fig. 2A)",
                     "figures": [_fig(f"{R}correlation/pearson_{s}.png", "correlation") for s in config["rnaseq"]["correlation"]["scales"]], "tables": []})
    if IMAGES:
        first = sorted(IMAGES)[0]
        figures = [_fig(f"{I}shape_modes/distribution.png", "shape_modes"), _fig(f"{I}shape_modes/dendrogram.png", "shape_modes"),
                   _fig(f"{I}shape_modes/stability.png", "stability")]
        if not config["imaging"].get("masks"):
            figures.insert(0, _fig(f"{I}segmentation/{first}/{sorted(IMAGES[first])[0]}.png", "segmentation"))
        if config["imaging"]["channels"].get("label") is not None:
            figures.append(_fig(f"{I}ssea3_histograms.png", "ssea3"))
        sections.append({"id": "shape-modes", "title": "Segmentation and shape modes (Fig. 2B), SSEA3 labels (Fig. 3A)", "figures": figures,
                         "tables": [_tab(f"{I}shape_modes/modes.tsv", "shape_modes", 50)]})
    sections.append({"id": "stemness", "title": "Stemness markers (Fig. 3B)", "figures": [_fig(f"{R}stemness/dotplot.png", "dotplot")], "tables": []})
    sections.append({"id": "pca", "title": "PCA, scree and loadings (Fig. 3C-E)",
                     "figures": [_fig(f"{R}pca/scree.png", "scree"), _fig(f"{R}pca/biplot.png", "pca"), _fig(f"{R}pca/loadings_plot.png", "loadings")],
                     "tables": [_tab(f"{R}pca/variance.tsv", "pca")]})
    sections.append({"id": "enrichment", "title": "GO enrichment of PC1 genes and term network (Fig. 3F-G)",
                     "figures": [f for c in GENE_SET_FILES for f in (_fig(f"{R}enrichment/go_{c}.png", "enrichment"), _fig(f"{R}enrichment/go_{c}_network.png", "network"))],
                     "tables": [_tab(f"{R}enrichment/go_{c}.tsv", "enrichment", 15) for c in GENE_SET_FILES]})
    if CNN["enabled"]:
        sections += [
            {"id": "cnn-comparison", "title": "CNN backbone comparison (Table 1)", "figures": [_fig(f"{C}roc.png", "cnn_comparison")],
             "tables": [_tab(f"{C}comparison.tsv", "cnn_comparison"), _tab(f"{C}baselines.tsv", "cnn_baselines"), _tab(f"{C}cnn_vs_baselines.tsv", "cnn_baselines")]},
            {"id": "lr-search", "title": "Learning-rate search (Fig. 4B-C)",
             "figures": [_fig(f"{C}lr_search/surrogate.png", "cnn_lr_search"), _fig(f"{C}lr_search/roc_auc.png", "cnn_lr_search")], "tables": []},
            {"id": "confusion", "title": "Final model: confusion matrix and example cells (Fig. 4D-E)",
             "figures": [_fig(f"{C}final/confusion.png", "cnn_final"), _fig(f"{C}final/examples.png", "cnn_final")], "tables": [_tab(f"{C}final/test_metrics.tsv", "cnn_final")]},
            {"id": "multipotency", "title": "Per-donor multipotency (Fig. 4F)", "figures": [_fig(f"{C}donor_multipotency.png", "cnn_donors")],
             "tables": [_tab(f"{C}donor_multipotency.tsv", "cnn_donors", 50)]},
        ]
    if HAS_DIFFERENTIATED:
        figures = [_fig(f"{R}differentiation/pca.png", "differentiation_pca"), _fig(f"{R}differentiation/pearson.png", "correlation")]
        tables = []
        if PAIRED_DONORS:
            figures.append(_fig(f"{R}differentiation/function_heatmap.png", "function_heatmap"))
        if len(PAIRED_DONORS) >= 2 and config["rnaseq"]["values"] == "counts":
            tables.append(_tab(f"{R}differentiation/deseq2.tsv", "deseq2", 15))
        sections.append({"id": "differentiation", "title": "Differentiation (Fig. 5)", "figures": figures, "tables": tables})
    if DEMO is not None and IMAGES:
        sections.append({"id": "simulation-check", "title": "Simulation check: recovered vs planted multipotency (demo)",
                         "figures": [_fig(f"{D}simulation_check.png", "report_simulation_check")], "tables": [_tab(f"{D}simulation_check.tsv", "report_simulation_check")]})
    return sections


def report_section_files(wildcards=None):
    return [item["path"] for section in report_sections() for key in ("figures", "tables") for item in section[key]]


def report_targets():
    if not REPORT["enabled"]:
        return []
    return [f"{REPORT_DIR}/donor_report.html", f"{REPORT_DIR}/donor_summary.tsv"]


def all_targets():
    """Final outputs of every stage that exists; later stages add theirs here."""
    targets = [PROVENANCE_INPUTS, *rnaseq_targets(), *imaging_targets(), *cnn_targets(), *report_targets()]
    if DEMO is not None:
        targets += demo_targets()
    return targets
