"""The run plan, case by case, without Snakemake: every cross-field rule, targets, sections, and the
config keys each training rule receives."""

from __future__ import annotations

import copy
import shutil

import pandas as pd
import pytest
import yaml

from morphopotency.config import ConfigError
from morphopotency.plan import TRAINING_KEYS, build
from morphopotency.report import registry
from tests.conftest import REPO
from tests.workflow_helpers import TEST_CONFIG

SHEET = pd.read_csv(TEST_CONFIG / "samples.tsv", sep="\t", dtype=str, keep_default_na=False).set_index(
    "sample", drop=False
)


def tiny(**sections) -> dict:
    config = yaml.safe_load((TEST_CONFIG / "config.yaml").read_text())
    for key, value in sections.items():
        config[key] = value
    return config


def plan(config: dict, samples: pd.DataFrame = SHEET, tmp_path=None):
    return build(config, REPO, samples=samples, cache_dir=tmp_path)


@pytest.fixture(autouse=True)
def in_project(tmp_path, monkeypatch):
    """Relative paths resolve in a project folder holding only its config/, as a user's own folder does."""
    shutil.copytree(TEST_CONFIG, tmp_path / "config")
    monkeypatch.chdir(tmp_path)


def test_tiny_plan_fills_defaults_resolves_shipped_resources_and_leaves_the_input_alone():
    config = tiny()
    before = copy.deepcopy(config)
    p = plan(config)
    assert config == before
    assert p.config["cnn"]["epochs"] == 50 and p.config["threads"] == {"deseq2": 2, "shape_modes": 2}
    assert p.gene_set_files["bp"] == str(REPO / "resources/go/GO_BP_orgHs.eg.db_3.16.0.gmt.gz")
    assert p.stem_samples == ("S1", "S8", "S9") and p.paired_donors == ("S8", "S9")
    assert p.flags == {
        "rnaseq",
        "differentiated",
        "paired",
        "deseq2",
        "images",
        "label",
        "segmentation",
        "simulation",
        "report",
    }
    assert p.images["S8"] == {"S8_field01": "results/demo/images/S8/S8_field01.ome.tif"}
    assert "results/rnaseq/differentiation/deseq2.tsv" in p.targets
    assert not any(t.startswith("results/cnn/") for t in p.targets)


def test_sections_follow_the_flags_and_every_file_is_a_registered_output():
    p = plan(tiny())
    ids = [s["id"] for s in p.sections]
    assert ids == [
        "donors",
        "correlation",
        "shape-modes",
        "stemness",
        "pca",
        "enrichment",
        "differentiation",
        "simulation-check",
    ]
    shapes = next(s for s in p.sections if s["id"] == "shape-modes")
    assert [f["path"] for f in shapes["figures"]][0] == "results/imaging/segmentation/S1/S1_field01.png"
    enrichment = next(s for s in p.sections if s["id"] == "enrichment")
    assert [f["path"].split("/")[-1] for f in enrichment["figures"]] == [
        "go_bp.png",
        "go_bp_network.png",
        "go_cc.png",
        "go_cc_network.png",
    ]
    with_cnn = plan(
        tiny(cnn={"enabled": True, "backbones": ["resnet18"], "pretrained": "none"}), tmp_path=None
    )
    assert {"cnn-comparison", "lr-search", "confusion", "multipotency"} <= {
        s["id"] for s in with_cnn.sections
    }


def test_every_registered_caption_exists_and_report_args_name_it():
    for item in registry.ITEMS:
        assert (REPO / "workflow/report" / f"{item.caption}.rst").is_file(), item.caption
    args = registry.report_args("results/rnaseq/pca/scree.png")
    assert args == {"caption": "../report/scree.rst", "category": "RNA-seq", "subcategory": "PCA"}
    with pytest.raises(KeyError, match="not in morphopotency.report.registry"):
        registry.report_args("results/rnaseq/nothing.png")


def test_own_masks_and_no_label_channel_drop_their_outputs():
    imaging = {
        "masks": "masks/{donor}/{image}.tif",
        "channels": {"shape": "CD105", "label": None, "nuclei": None},
    }
    p = plan(tiny(imaging=imaging))
    assert "segmentation" not in p.flags and "label" not in p.flags
    assert not any("segmentation/" in t or "ssea3" in t for t in p.targets)
    assert p.label_image("S1", "S1_field01") == "masks/S1/S1_field01.tif"
    assert "ssea3" not in p.summary_inputs()


def test_masks_for_some_donors_segment_the_others():
    p = plan(tiny(imaging={"masks": {"S8": "cellpose/{donor}/{image}_cp_masks.png"}}))
    assert "segmentation" in p.flags
    assert p.label_image("S8", "S8_field01") == "cellpose/S8/S8_field01_cp_masks.png"
    assert p.label_image("S1", "S1_field01") == "results/imaging/segmentation/S1/S1_field01.tif"
    segmented = {t.split("/")[3] for t in p.targets if t.startswith("results/imaging/segmentation/")}
    assert "S8" not in segmented and "S1" in segmented
    with pytest.raises(ConfigError, match="imaging.masks names donor\\(s\\) S4 that have no images"):
        plan(tiny(imaging={"masks": {"S4": "m/{donor}/{image}.png"}}))


def test_training_rules_receive_only_training_keys():
    p = plan(tiny(cnn={"enabled": True, "backbones": ["resnet18"], "pretrained": "none"}))
    fold = p.cnn_params("fold")
    assert set(fold) == set(TRAINING_KEYS)
    assert not {"bootstrap", "lr_search", "select_by", "threads", "backbones"} & set(p.cnn_params("final"))
    assert set(p.cnn_params("lr_search")) == set(TRAINING_KEYS) | {"final_fold", "lr_search"}


SHEET_NO_DIFF = SHEET[SHEET["condition"] == "stem"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rnaseq": {"values": "counts"}}, "give exactly one of rnaseq.table"),
        (
            {
                "rnaseq": {
                    "values": "counts",
                    "table": "results/demo/rnaseq/demo_counts.tsv.gz",
                    "geo": {"accession": "GSE1", "file": "f.txt"},
                }
            },
            "give exactly one of rnaseq.table",
        ),
        (
            {"demo": {"enabled": True, "multipotent_fraction": {"S1": 0.2}}},
            "demo.multipotent_fraction has no value for donor(s) S8, S9",
        ),
        (
            {
                "report": {"correlation_scale": "log2"},
                "rnaseq": {
                    "values": "counts",
                    "correlation": {"scales": ["rpkm"]},
                    "table": "results/demo/rnaseq/demo_counts.tsv.gz",
                    "gene_lengths": "results/demo/rnaseq/gene_lengths.tsv",
                },
            },
            "report.correlation_scale 'log2' is not one of rnaseq.correlation.scales (rpkm)",
        ),
        (
            {"cnn": {"enabled": True, "backbones": ["densenet12"], "pretrained": "none"}},
            "'densenet12' is not a timm model",
        ),
        (
            {"cnn": {"enabled": True, "backbones": ["resnet18"], "pretrained": "w/missing.safetensors"}},
            "cnn.pretrained for resnet18: 'w/missing.safetensors' is neither imagenet, none nor an existing",
        ),
        (
            {"cnn": {"enabled": True, "backbones": ["resnet18"], "pretrained": {"vgg19": "none"}}},
            "cnn.pretrained has no entry for backbone 'resnet18'",
        ),
        (
            {
                "cnn": {
                    "enabled": True,
                    "backbones": ["resnet18"],
                    "pretrained": "none",
                    "final_backbone": "vgg19",
                }
            },
            "cnn.final_backbone 'vgg19' is not auto or one of cnn.backbones (resnet18)",
        ),
        (
            {
                "cnn": {
                    "enabled": True,
                    "pretrained": "none",
                    "backbones": ["resnet18"],
                    "data": {"source": "folder"},
                }
            },
            "cnn.data.folder: not a folder: None",
        ),
        (
            {
                "cnn": {
                    "enabled": True,
                    "pretrained": "none",
                    "backbones": ["resnet18"],
                    "lr_search": {"low": 0.1, "high": 0.01},
                }
            },
            "cnn.lr_search.low must be below cnn.lr_search.high",
        ),
        (
            {
                "cnn": {"enabled": True, "pretrained": "none", "backbones": ["resnet18"]},
                "imaging": {"channels": {"shape": "CD105", "label": None, "nuclei": "DAPI"}},
            },
            "the CNN learns SSEA3 labels but imaging.channels.label is null",
        ),
        (
            {
                "cnn": {"enabled": True, "pretrained": "none", "backbones": ["resnet18"]},
                "samples": "config/samples.tsv",
                "_sheet": "no images",
            },
            "cnn.data.source is imaging but no sample has images",
        ),
        ({"_sheet": "one stem"}, "the RNA-seq branch needs at least 2 stem samples"),
        ({"cnn": {"epochz": 3}}, "unknown key 'cnn.epochz'"),
        ({"rnaseq": {"values": "counts", "table": "absent.tsv"}}, "rnaseq.table: file not found: absent.tsv"),
    ],
)
def test_each_cross_field_error_is_named(change, message, tmp_path):
    config = tiny()
    sheet = SHEET
    for key, value in change.items():
        if key == "_sheet":
            if value == "no images":
                sheet = SHEET.assign(images="")
            else:
                sheet = SHEET[SHEET["sample"].isin(["S1", "D8"])]
        elif key == "demo":
            config["demo"] = {**config["demo"], **value}
        else:
            config[key] = value
    with pytest.raises(ConfigError) as error:
        plan(config, sheet, tmp_path)
    assert message in str(error.value)


def test_backbone_names_timm_accepted_are_remembered(tmp_path, monkeypatch):
    """A dry run imports timm (seconds) only for a backbone name it has not yet checked."""
    config = tiny(cnn={"enabled": True, "backbones": ["resnet18"], "pretrained": "none"})
    plan(config, tmp_path=tmp_path)
    assert list(tmp_path.glob("timm-*-backbones.json"))

    def refuse(name):
        raise AssertionError("timm consulted again")

    monkeypatch.setattr("morphopotency.cnn.model.check_backbone", refuse)
    plan(config, tmp_path=tmp_path)  # remembered: timm not consulted
    with pytest.raises(AssertionError, match="timm consulted again"):
        plan(tiny(cnn={"enabled": True, "backbones": ["resnet34"], "pretrained": "none"}), tmp_path=tmp_path)


def test_job_memory_grows_with_attempts_and_image_size(tmp_path):
    from morphopotency.jobs import by_attempt, segmentation_mem_mb

    image = tmp_path / "a.tif"
    image.write_bytes(b"\0" * 2_000_000)
    assert by_attempt(500)(None, 3) == 1500
    assert segmentation_mem_mb(None, [str(image)], 1) == 1080
    assert segmentation_mem_mb(None, [str(image), str(tmp_path / "not-yet-made.tif")], 2) == 2160


def test_each_branch_runs_on_its_own():
    """No rnaseq section (or no RNA-seq column in the sheet): the imaging branch alone; no images: the
    RNA-seq branch alone; neither: refused by name."""
    config = tiny()
    del config["rnaseq"]
    imaging_only = plan(config)
    assert "rnaseq" not in imaging_only.flags and "images" in imaging_only.flags
    assert not any(t.startswith("results/rnaseq/") or "demo/rnaseq" in t for t in imaging_only.targets)
    assert "pca_scores" not in imaging_only.summary_inputs()
    assert list(imaging_only.provenance_inputs()) == ["samples", "images"]
    assert {s["id"] for s in imaging_only.sections}.isdisjoint(
        {"correlation", "stemness", "pca", "enrichment"}
    )
    assert "rnaseq" not in plan(tiny(), SHEET.assign(rnaseq_column="")).flags
    rna_only = plan(tiny(), SHEET.assign(images=""))
    assert "images" not in rna_only.flags and "results/rnaseq/expression/rpkm.tsv" in rna_only.targets
    with pytest.raises(ConfigError, match="no sample has images or an rnaseq_column"):
        plan(config, SHEET.assign(images=""))


def test_a_mixed_sheet_trains_on_reference_donors_and_scores_the_others():
    cnn = {"enabled": True, "backbones": ["resnet18"], "pretrained": "none"}
    config = tiny(cnn=cnn)
    config["demo"]["multipotent_fraction"]["N1"] = 0.2
    new = pd.DataFrame(
        [
            {
                "sample": "N1",
                "donor": "N1",
                "condition": "stem",
                "rnaseq_column": "",
                "images": "results/demo/images/N1",
            }
        ]
    ).set_index("sample", drop=False)
    sheet = pd.concat([SHEET.assign(role="reference"), new.assign(role="score")])
    p = plan(config, sheet)
    assert p.reference_donors == ("S1", "S8", "S9") and p.score_donors == ("N1",)
    assert {"score", "cnn", "lodo"} <= p.flags and p.bundle == "results/model"
    assert {"results/score/donor_scores.tsv", "results/report/score_report.html", "results/model"} <= set(
        p.targets
    )
    assert "results/cnn/lodo/validation.tsv" in p.targets
    assert p.channels("N1")["optional"] == ["label"] and "optional" not in p.channels("S1")
    assert "lodo" not in plan(tiny(cnn={**cnn, "lodo": False})).flags
    assert set(p.cnn_params("lodo")) == set(TRAINING_KEYS) | {"group_by", "lodo_val_fraction"}
    # A LODO model measures its error rates on as large a share as the final model (validation + test).
    full = p.config["cnn"]
    assert p.cnn_params("lodo")["lodo_val_fraction"] == pytest.approx(
        full["val_fraction"] + 1 / full["folds"]
    )
    no_cnn = tiny()
    no_cnn["demo"]["multipotent_fraction"]["N1"] = 0.2
    with pytest.raises(ConfigError, match=r"donor\(s\) N1 have role score, which needs a model"):
        plan(no_cnn, sheet)
    with pytest.raises(ConfigError, match="every imaged donor has role score"):
        plan(config, sheet.assign(role="score"))
    for estimator in ("pacc_donor", "pacc_cross"):
        needs_lodo = tiny(cnn={**cnn, "lodo": False}, score={"estimator": estimator})
        needs_lodo["demo"]["multipotent_fraction"]["N1"] = 0.2
        with pytest.raises(
            ConfigError, match=f"{estimator} needs the leave-one-donor-out models, and cnn.lodo"
        ):
            plan(needs_lodo, sheet)


def test_a_scoring_run_takes_the_bundles_preprocessing_and_keeps_what_describes_the_labs_files(tmp_path):
    """score.bundle: segmentation and crops as the reference's were made, new images brought to the
    reference's pixel size (unless score.match_pixel_size is false); channel names and the pixel size of
    files without metadata stay the lab's."""
    from morphopotency.score.bundle import export, preprocessing_settings

    reference = tiny()
    reference["imaging"] = {**reference.get("imaging", {}), "pixel_size_um": 0.8}
    reference["imaging"]["segmentation"] = {"smooth_sigma": 3.5}
    built = plan(reference).config
    settings = preprocessing_settings(built, {"spec": {}, "threshold": 0.5}, reference_pixel_um=0.65)
    bundle = tmp_path / "bundle"
    export(bundle, {}, settings, {}, {"config_sha256": "x", "commit": None})
    channels = {"shape": "GFP", "label": None, "nuclei": None}
    lab = tiny(score={"bundle": str(bundle)}, imaging={"channels": channels, "pixel_size_um": 0.5})
    p = plan(lab)
    imaging = p.config["imaging"]
    assert imaging["segmentation"]["smooth_sigma"] == 3.5 and imaging["channels"] == channels
    assert imaging["pixel_size_um"] == 0.5 and imaging["resample_um"] == 0.65
    assert "cnn" not in p.flags and "score" in p.flags
    lab["score"]["match_pixel_size"] = False
    assert plan(lab).config["imaging"]["resample_um"] is None
    # A bundle of a run without the leave-one-donor-out validation has no donor shift to move rates by.
    lab["score"]["estimator"] = "acc_donor"
    with pytest.raises(ConfigError, match="acc_donor needs the donor shift, which bundle .* lacks"):
        plan(lab)


def test_a_lot_is_labelled_over_the_region_its_reference_was_and_an_older_bundle_over_the_whole_cell(
    tmp_path,
):
    """A scored lot imaged with SSEA3 is checked against the reference's labels: measured alike. Bundles
    written before imaging.ssea3_region existed measured the whole cell."""
    from morphopotency.score.bundle import export, load, preprocessing_settings

    reference = tiny()
    reference["imaging"]["ssea3_region"] = "inner"
    settings = preprocessing_settings(plan(reference).config, {"spec": {}, "threshold": 0.5})
    for name, region, expected in (("new", "inner", "inner"), ("old", None, "whole")):
        kept = dict(settings, imaging={k: v for k, v in settings["imaging"].items() if k != "ssea3_region"})
        if region:
            kept["imaging"]["ssea3_region"] = region
        export(tmp_path / name, {}, kept, {}, {"config_sha256": "x", "commit": None})
        lab = tiny(score={"bundle": str(tmp_path / name)}, imaging={"ssea3_region": "whole"})
        assert plan(lab).config["imaging"]["ssea3_region"] == expected
        assert load(tmp_path / name).ssea3_region() == expected


def _folder_of_cells(root, metadata: bool = False):
    """Two class sub-folders of tiny PNG crops, as a CellProfiler export gives them."""
    import numpy as np
    from skimage import io as skio

    for name in ("multipotent", "other"):
        (root / name).mkdir(parents=True)
        for i in range(2):
            skio.imsave(root / name / f"c{i}.png", np.full((8, 8), 40 * i, np.uint8), check_contrast=False)
    if metadata:
        rows = [f"{c}/c{i}.png\tD{i}\timg{i}" for c in ("multipotent", "other") for i in range(2)]
        (root / "metadata.tsv").write_text("file\tdonor\timage\n" + "\n".join(rows) + "\n")
    return root


FOLDER_CNN = {"enabled": True, "pretrained": "none", "backbones": ["resnet18"], "lodo": True}


def test_each_planner_decides_its_own_branch(tmp_path):
    from morphopotency.plan import plan_cnn, plan_imaging, plan_report, plan_rnaseq, plan_scoring

    p = plan(tiny())
    config, sheet = p.config, p.samples
    rnaseq = plan_rnaseq(copy.deepcopy(config), sheet)
    assert rnaseq.flags == {"rnaseq", "differentiated", "paired", "deseq2"} and rnaseq.scale == "rpkm"
    assert rnaseq.paired == ("S8", "S9") and "results/rnaseq/differentiation/deseq2.tsv" in rnaseq.targets
    assert plan_rnaseq(copy.deepcopy(config), sheet[sheet["rnaseq_column"] == ""]).flags == set()
    imaging = plan_imaging(config, sheet)
    assert imaging.flags == {"images", "label", "segmentation", "simulation"}
    assert imaging.donors == ("S1", "S8", "S9") and len(imaging.planned) == 3
    assert plan_imaging(config, sheet[sheet["images"] == ""]).flags == set()
    assert plan_cnn(config, imaging, tmp_path).flags == set()  # cnn.enabled false in the tiny config
    trained = copy.deepcopy(config)
    trained["cnn"] |= FOLDER_CNN
    cnn = plan_cnn(trained, imaging, tmp_path)
    assert cnn.flags == {"cnn", "lodo"} and "results/cnn/lodo/validation.tsv" in cnn.targets
    assert plan_scoring(config, sheet, imaging.images, imaging.flags, False).to_score == ()
    assert plan_report(config).targets == (
        "results/report/donor_report.html",
        "results/report/donor_summary.tsv",
    )


def test_a_folder_of_labelled_cells_is_a_run_of_its_own_without_a_sample_sheet(tmp_path):
    folder = _folder_of_cells(tmp_path / "cells")
    config = tiny(
        cnn=FOLDER_CNN | {"data": {"source": "folder", "folder": str(folder)}}, demo={"enabled": False}
    )
    del config["samples"], config["rnaseq"]
    p = build(config, REPO, cache_dir=tmp_path)
    assert p.flags == {"cnn", "folder", "report"}  # no leave-one-donor-out: a folder names no donors
    assert p.samples.empty and p.images == {} and p.reference_donors == ()
    assert "results/model" in p.targets and "results/cnn/baselines.tsv" in p.targets
    assert not any(t.startswith(("results/imaging", "results/rnaseq", "results/demo")) for t in p.targets)
    assert [s["id"] for s in p.sections] == [
        "donors",
        "cnn-comparison",
        "lr-search",
        "confusion",
        "multipotency",
    ]
    assert "samples" not in p.summary_inputs() and p.summary_inputs()["cnn_donors"]
    assert p.provenance_inputs()["cnn_folder"][-1].endswith("other/c1.png")
    with_meta = _folder_of_cells(tmp_path / "meta", metadata=True)
    config["cnn"]["data"]["folder"] = str(with_meta)
    assert (
        build(config, REPO, cache_dir=tmp_path).provenance_inputs()["cnn_folder"][-1].endswith("metadata.tsv")
    )


def test_only_a_folder_cnn_runs_without_a_sample_sheet(tmp_path):
    config = tiny()
    del config["samples"]
    with pytest.raises(ConfigError, match="samples: no sample sheet given; only a CNN trained on a folder"):
        build(config, REPO, cache_dir=tmp_path)


def test_a_bundle_trained_on_a_folder_of_cells_scores_no_images(tmp_path):
    from morphopotency.score.bundle import export

    (tmp_path / "model.json").write_text("{}")
    settings = {"imaging": {}, "shape_modes": {}, "cnn": {"data_source": "folder"}}
    export(tmp_path / "bundle", {"cnn/model.json": tmp_path / "model.json"}, settings, {}, {})
    config = tiny(score={"bundle": str(tmp_path / "bundle")})
    with pytest.raises(ConfigError, match="learnt from a folder of labelled cells .* cannot score images"):
        build(config, REPO, cache_dir=tmp_path)


def test_lots_cut_otherwise_than_their_reference_are_named_before_any_job(tmp_path):
    """A scoring run of a bundle built from the lab's masks holds the lots the watershed segments (and the
    plan says so); lots with masks of that tool are not named. Masks of no named tool wait for their files."""
    from morphopotency.score.bundle import export, preprocessing_settings

    built = plan(tiny()).config
    masks = [{"kind": "masks", "tool": "CellProfiler 4.2", "donors": ["S1", "S8"]}]
    settings = preprocessing_settings(built, {"spec": {}, "threshold": 0.5}, segmented_by=masks)
    export(tmp_path / "bundle", {}, settings, {}, {"config_sha256": "x", "commit": None})
    lab = tiny(score={"bundle": str(tmp_path / "bundle")})
    watershed = [n for n in plan(lab).notes if "will be held" in n]
    assert watershed == [
        f"lot {d} will be held: segmented by the workflow's watershed, the reference by the lab's own masks "
        "(CellProfiler 4.2) (imaging.masks, imaging.masks_tool)"
        for d in ("S1", "S8", "S9")
    ]
    lab["imaging"] = {"masks": "m/{donor}/{image}.tif", "masks_tool": {"S8": "QuPath", "S9": "CellProfiler"}}
    held = [n for n in plan(lab).notes if "will be held" in n]
    assert held == [
        "lot S8 will be held: segmented by the lab's own masks (QuPath), the reference by the lab's own "
        "masks (CellProfiler 4.2) (imaging.masks, imaging.masks_tool)"
    ]
