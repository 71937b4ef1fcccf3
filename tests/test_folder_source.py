"""A lab with pre-cropped cells only (a CellProfiler export, imaging flow cytometry): cnn.data.source
folder, no sample sheet, no images, no RNA-seq. From crops to cross-validation, learning-rate search,
final model, bundle and report, with the shape-feature baseline beside the CNN."""

import json

import numpy as np
import pandas as pd
import pytest
from skimage import draw
from skimage import io as skio

from morphopotency.cnn.donors import donor_multipotency
from tests.workflow_helpers import cnn_config, snakemake, tiny_config, write_project

pytestmark = pytest.mark.workflow


def write_crops(folder, per_class: int = 24, side: int = 40, seed: int = 5) -> None:
    """Round cells in ``multipotent/``, spindles in ``other/``, each with its own size, angle and noise."""
    rng = np.random.default_rng(seed)
    for name in ("multipotent", "other"):
        (folder / name).mkdir(parents=True)
        for i in range(per_class):
            image = rng.normal(20, 4, (side, side))
            radius = rng.uniform(7, 10)
            rows, cols = (radius, radius) if name == "multipotent" else (radius * 0.4, radius * 1.8)
            rr, cc = draw.ellipse(
                side / 2, side / 2, rows, cols, shape=image.shape, rotation=rng.uniform(0, np.pi)
            )
            image[rr, cc] += 150
            skio.imsave(folder / name / f"cell{i:02d}.png", np.clip(image, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    write_crops(root / "crops")
    cnn = cnn_config()["cnn"] | {"data": {"source": "folder", "folder": str(root / "crops"), "side": 32}}
    config = tiny_config(demo={"enabled": False}, cnn=cnn)
    del config["samples"], config["rnaseq"]
    write_project(root, config, [])
    (root / "config" / "samples.tsv").unlink()  # no sample sheet at all
    result = snakemake(root)
    assert result.returncode == 0, result.stderr[-4000:]
    return root


def test_a_folder_of_crops_trains_compares_bundles_and_reports(folder_run):
    out = folder_run / "results"
    assert not (out / "imaging").exists() and not (out / "rnaseq").exists()
    baselines = pd.read_csv(out / "cnn/baselines.tsv", sep="\t")
    assert set(baselines["model"]) == {"resnet18", "majority_class", "logistic_shape_features"}
    # Round against spindle cells: the shape measures of each crop's Otsu mask tell them apart.
    shapes = baselines.set_index("model").loc["logistic_shape_features", "roc_auc_mean"]
    assert shapes > 0.9
    cells = pd.read_csv(out / "cnn/data/cells.tsv", sep="\t")
    assert cells["aspect_ratio"].notna().all() and (cells["donor"] == "folder").all()
    bundle = out / "model"
    settings = json.loads((bundle / "settings.json").read_text())
    assert settings["cnn"]["data_source"] == "folder" and not (bundle / "shape_modes").exists()
    assert (bundle / "MANIFEST.sha256").is_file() and (bundle / "reference/cells.tsv").is_file()
    manifest = pd.read_csv(out / "provenance/inputs.tsv", sep="\t")
    assert (manifest["role"] == "cnn_folder").sum() == 48


def test_without_metadata_no_donor_fraction_is_given_and_the_reason_is(folder_run):
    out = folder_run / "results"
    donors = pd.read_csv(out / "cnn/donor_multipotency.tsv", sep="\t")
    assert list(donors.columns) == ["reason"] and "metadata.tsv" in donors["reason"].iloc[0]
    summary = pd.read_csv(out / "report/donor_summary.tsv", sep="\t")
    assert summary.empty and "cnn_multipotent_fraction_note" in summary
    page = (out / "report/donor_report.html").read_text()
    assert "Not computed for this cohort" in page and "every file is its own image" in page
    for section in ("cnn-comparison", "lr-search", "confusion", "multipotency"):
        assert f'id="{section}"' in page
    log = (folder_run / "results/logs/cnn/dataset.log").read_text()
    assert "every file is its own image" in log


def test_donors_named_by_metadata_get_their_own_fractions():
    """The table cnn_donors writes where metadata.tsv names donors: each donor's fraction, its
    cross-validated and adjusted forms (error rates from the other donors' cells)."""
    rng = np.random.default_rng(0)
    donor = np.repeat(["A", "B", "C"], 20)
    label = np.tile([1, 0], 30)
    prob = np.clip(label * 0.6 + rng.uniform(0, 0.4, 60), 0, 1)
    final = pd.DataFrame(
        {
            "donor": donor,
            "label": label,
            "prob": prob,
            "threshold": 0.5,
            "role": np.tile(["train", "test"], 30),
        }
    )
    cv = final.assign(model="resnet18")
    table = donor_multipotency(final, cv, n_boot=200).set_index("donor")
    assert list(table.index) == ["A", "B", "C"] and (table["cells"] == 20).all()
    assert table["predicted_multipotent_fraction"].tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert table["cv_pacc_fraction"].between(0, 1).all()
    one = donor_multipotency(final.assign(donor="D"), cv.assign(donor="D"), n_boot=10)
    assert "one donor (D)" in one["reason"].iloc[0]
