"""End to end: Snakemake on a tiny config in a temporary folder."""

import shutil

import anndata as ad
import pandas as pd
import pytest
import tifffile

from tests.conftest import REPO
from tests.workflow_helpers import assert_lint_clean, snakemake, tiny_config, write_project

pytestmark = pytest.mark.workflow


def test_dry_run_shows_the_dag(tmp_path):
    root = write_project(tmp_path, tiny_config())
    result = snakemake(root, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout + result.stderr
    for rule, count in (("demo_images", 3), ("demo_rnaseq", 1), ("demo_truth", 1), ("input_manifest", 1)):
        assert any(line.split() == [rule, str(count)] for line in out.splitlines()), rule
    assert not (root / "results").exists()


def test_demo_run_writes_every_output(demo_run):
    demo = demo_run / "results" / "demo"
    image = tifffile.imread(demo / "images" / "S8" / "S8_field01.ome.tif")
    assert image.shape == (3, 160, 160)
    table = pd.read_csv(demo / "rnaseq" / "demo_counts.tsv.gz", sep="\t")
    assert list(table.columns) == ["gene_id", "gene_symbol", "S1", "S8", "S9", "D8", "D9"]
    donors = pd.read_csv(demo / "truth" / "donors.tsv", sep="\t")
    assert list(donors["donor"]) == ["S1", "S8", "S9"]
    manifest = pd.read_csv(demo_run / "results" / "provenance" / "inputs.tsv", sep="\t")
    assert set(manifest["role"]) == {
        "samples",
        "expression_table",
        "gene_lengths",
        "gene_sets",
        "markers",
        "images",
    }
    assert (manifest["sha256"].str.len() == 64).all()
    assert (demo_run / "results" / "logs" / "demo" / "images_S8.log").stat().st_size > 0


def test_second_run_does_nothing(demo_run):
    result = snakemake(demo_run, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_lint_is_clean(demo_run):
    assert_lint_clean(demo_run)


@pytest.mark.parametrize("config", ["config", ".test/config"])
def test_shipped_configs_lint_clean(tmp_path, config):
    """The shipped demo config (which scores N1-N3 with the bundle it trains, the score rules included)
    and the CI test config, each in a project folder of its own; the scoring config is linted in
    test_score with a bundle to point at."""
    shutil.copytree(REPO / config, tmp_path / "config")
    assert_lint_clean(tmp_path, "--configfile", str(tmp_path / "config" / "config.yaml"))


def test_own_data_without_demo(demo_run, tmp_path):
    """A user's project: demo off, their table and images named in config/ only."""
    data = tmp_path / "data"
    shutil.copytree(demo_run / "results" / "demo" / "rnaseq", data / "rnaseq")
    shutil.copytree(demo_run / "results" / "demo" / "images" / "S8", data / "images" / "S8")
    config = tiny_config(demo={"enabled": False})
    config["rnaseq"]["table"] = str(data / "rnaseq" / "demo_counts.tsv.gz")
    config["rnaseq"]["gene_lengths"] = str(data / "rnaseq" / "gene_lengths.tsv")
    samples = [
        "S1\tS1\tstem\tS1\t",
        f"S8\tS8\tstem\tS8\t{data}/images/S8/*.ome.tif",
        "S9\tS9\tstem\tS9\t",
        "D8\tS8\tdifferentiated\tD8\t",
        "D9\tS9\tdifferentiated\tD9\t",
    ]
    root = write_project(tmp_path / "project", config, samples)
    result = snakemake(root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (root / "results" / "demo").exists()
    manifest = pd.read_csv(root / "results" / "provenance" / "inputs.tsv", sep="\t")
    assert manifest.loc[manifest["role"] == "images", "path"].str.endswith("S8_field01.ome.tif").all()


def _fails_before_any_job(root, *needles):
    result = snakemake(root)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    for needle in needles:
        assert needle in out, out[-3000:]
    assert "Select jobs to execute" not in out
    assert not (root / "results").exists()
    return out


def test_missing_file_named_in_config_stops_before_any_job(tmp_path):
    config = tiny_config(demo={"enabled": False})
    _fails_before_any_job(
        write_project(tmp_path, config),
        "rnaseq.table: file not found: results/demo/rnaseq/demo_counts.tsv.gz",
    )


@pytest.mark.parametrize(
    "cnn, message",
    [
        ({"backbones": ["densenet12"]}, "'densenet12' is not a timm model"),
        (
            {"pretrained": "weights/missing.safetensors"},
            "cnn.pretrained for densenet121: 'weights/missing.safetensors' is neither imagenet, none nor "
            "an existing .safetensors file",
        ),
        ({"pretrained": {"vgg19": "none"}}, "cnn.pretrained has no entry for backbone 'densenet121'"),
        ({"final_backbone": "resnet50"}, "cnn.final_backbone 'resnet50' is not auto or one of cnn.backbones"),
        ({"data": {"source": "folder", "folder": "nowhere"}}, "cnn.data.folder: not a folder: nowhere"),
        ({"lr_search": {"low": 0.1, "high": 0.01}}, "cnn.lr_search.low must be below cnn.lr_search.high"),
    ],
)
def test_bad_cnn_settings_stop_before_any_job(tmp_path, cnn, message):
    _fails_before_any_job(write_project(tmp_path, tiny_config(cnn={"enabled": True, **cnn})), message)


def test_paper_protocol_config_plans_the_papers_runs(tmp_path):
    """config/paper.yaml laid over the shipped config: four ImageNet backbones, 5 folds, 5 LR-search
    repeats.
    """
    (tmp_path / "config").mkdir()
    for name in ("config.yaml", "paper.yaml", "samples.tsv"):
        shutil.copy(REPO / "config" / name, tmp_path / "config" / name)
    (tmp_path / "resources").symlink_to(REPO / "resources")
    result = snakemake(tmp_path, "-n", "--configfile", "config/paper.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in result.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert counts["cnn_fetch_weights"] == 4 and counts["cnn_fold"] == 20 and counts["cnn_lr_search"] == 5


def test_snakemake_report_renders_every_caption_and_the_workflow_description(demo_run, tmp_path):
    """Captions read defaults the user's config left out (snakemake.config is the plan's config)."""
    import zipfile

    result = snakemake(demo_run, "--report", str(tmp_path / "report.zip"))
    assert result.returncode == 0, result.stderr[-3000:]
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        page = next(archive.read(n).decode() for n in archive.namelist() if n.endswith("report.html"))
    assert "morphopotency predicts how multipotent" in page  # workflow/report/workflow.rst


def test_imaging_branch_runs_on_its_own_with_the_shape_channel_alone(tmp_path):
    """No rnaseq section, no RNA-seq column in the sheet, no SSEA3 or DAPI channel: segmentation, cells,
    shape modes and the donor report still run (the imaging-only and scoring runs of a lab)."""
    config = tiny_config()
    del config["rnaseq"]
    config["imaging"]["channels"] = {"shape": "CD105", "label": None, "nuclei": None}
    samples = [
        "S1\tS1\tstem\t\tresults/demo/images/S1",
        "S8\tS8\tstem\t\tresults/demo/images/S8",
        "S9\tS9\tstem\t\tresults/demo/images/S9",
    ]
    root = write_project(tmp_path, config, samples)
    result = snakemake(root)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert not (root / "results/rnaseq").exists() and not (root / "results/demo/rnaseq").exists()
    obs = ad.read_h5ad(root / "results/imaging/cells/S8.h5ad").obs
    assert len(obs) > 0 and "shape_mean" in obs and "label_mean" not in obs
    summary = pd.read_csv(root / "results/report/donor_summary.tsv", sep="\t")
    assert list(summary["donor"]) == ["S1", "S8", "S9"] and "pc1_score" not in summary
    html = (root / "results/report/donor_report.html").read_text()
    assert 'id="shape-modes"' in html and 'id="pca"' not in html
