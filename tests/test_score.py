"""Scoring new donors from a model bundle, end to end: a bundle exported by one run scores donors in a
second run from another folder, with no training job in its DAG; scoring the reference donors' own images
gives the final model's per-cell probabilities and the fitted shape modes; a tampered bundle is refused
by name before any job."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from morphopotency.score.bundle import load
from tests.workflow_helpers import assert_lint_clean, snakemake, write_project

pytestmark = pytest.mark.workflow

TRAINING = {"cnn_dataset", "cnn_fold", "cnn_lr_search", "cnn_final", "imaging_shape_modes", "imaging_ssea3"}


def scoring_project(root, bundle, masks=None, **score):
    """A lab's scoring folder: the reference run's images (SSEA3 not read), the bundle copied elsewhere;
    ``masks``: the lab's own masks of S1m (S1's images again), which QuPath is said to have drawn."""
    config = {
        "samples": "config/samples.tsv",
        "score": {"bundle": str(bundle), "bootstrap": 200, **score},
        "imaging": {"channels": {"shape": "CD105", "label": None, "nuclei": "DAPI"}},
    }
    if masks:
        config["imaging"] |= {"masks": {"S1m": str(masks)}, "masks_tool": "QuPath 0.5"}
    images = root.parent / "clean_images"
    donors = ("S1", "S1m", "S8", "S8x", "S9") if masks else ("S1", "S8", "S8x", "S9")
    samples = [f"{d}\t{d}\tstem\t\t{images}/{d}" for d in donors]
    return write_project(root, config, samples)


def imaged_at(source, dest, pixel_um: float) -> None:
    """A donor's images as another objective would see them: resampled to ``pixel_um`` (the reference's
    are 0.8 um), the metadata saying so."""
    import tifffile
    from skimage.transform import rescale

    from morphopotency.simulate import write_ome_tiff

    dest.mkdir()
    for path in sorted(source.glob("*.ome.tif")):
        data = tifffile.imread(path)
        zoomed = rescale(data, (1, 0.8 / pixel_um, 0.8 / pixel_um), order=1, preserve_range=True)
        names = ("CD105", "SSEA3", "DAPI")[: len(data)]
        write_ome_tiff(dest / path.name, np.rint(zoomed).astype(data.dtype), names, pixel_um, path.name)


@pytest.fixture(scope="module")
def scored(cnn_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("score")
    bundle = base / "bundles" / "reference-2026"
    shutil.copytree(cnn_run / "results/model", bundle)
    shutil.copytree(cnn_run / "results/demo/images", base / "clean_images")
    # S8x: S8's fields imaged again at 0.6 um a pixel, a third more pixels each way.
    imaged_at(base / "clean_images/S8", base / "clean_images/S8x", 0.6)
    # S1m: S1's fields again, with the lab's own masks (the simulator's planted cells).
    shutil.copytree(base / "clean_images/S1", base / "clean_images/S1m")
    root = scoring_project(base / "lab", bundle, cnn_run / "results/demo/truth/masks/S1/{image}.ome.tif")
    dry = snakemake(root, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-3000:]
    run = snakemake(root)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return cnn_run, root, bundle, dry.stdout + dry.stderr


def test_scoring_trains_nothing(scored):
    _, _, _, dry = scored
    rules = set(re.findall(r"^(?:local)?rule (\w+):$", dry, flags=re.M))
    assert {"score_cells", "score_donors", "score_report"} <= rules and not rules & TRAINING, sorted(rules)


def test_reference_images_give_the_final_models_probabilities_and_shape_modes(scored):
    reference, root, _, _ = scored
    keys = ["donor", "image", "cell_id"]
    cells = pd.concat(
        pd.read_csv(p, sep="\t", dtype={"donor": str, "image": str})
        for p in sorted((root / "results/score/cells").glob("*.tsv"))
    )
    final = pd.read_csv(
        reference / "results/cnn/final/cell_predictions.tsv", sep="\t", dtype={"donor": str, "image": str}
    )
    cells = cells[~cells["donor"].isin(["S8x", "S1m"])]  # the reference donors' own images, segmented
    both = final.merge(cells, on=keys, suffixes=("_final", "_scored"), validate="one_to_one")
    assert len(both) == len(final) == len(cells)  # the same segmentation: the same cells
    # float32 inference in other batches: equal to a few units in the 7th digit
    assert (both["prob_final"] - both["prob_scored"]).abs().max() < 1e-6
    fitted = pd.read_csv(
        reference / "results/imaging/shape_modes/assignments.tsv",
        sep="\t",
        dtype={"donor": str, "image": str},
    )
    modes = fitted.merge(cells, on=keys, suffixes=("_fit", "_assigned"))
    assert (modes["shape_mode_fit"] == modes["shape_mode_assigned"]).all()


def test_donor_scores_hold_fractions_intervals_flags_and_verdicts(scored):
    _, root, _, _ = scored
    scores = pd.read_csv(root / "results/score/donor_scores.tsv", sep="\t")
    # The bundle holds the leave-one-donor-out models: auto deploys the cross-fitted estimator.
    assert list(scores["donor"]) == ["S1", "S1m", "S8", "S8x", "S9"]
    assert (scores["estimator"] == "pacc_cross").all()
    cells = pd.read_csv(root / "results/score/cells/S1.tsv", sep="\t")
    assert {"prob_lodo_S1", "prob_lodo_S8", "prob_lodo_S9"} <= set(cells.columns)
    assert scores["fraction"].between(0, 1).all() and (scores["ci_low"] <= scores["ci_high"]).all()
    assert scores["flags"].str.contains("too few cells").all()  # a handful of cells a donor, min 50
    # A flagged donor is scored but held, whatever its interval says.
    assert scores["verdict"].str.startswith("hold: flagged (too few cells").all()
    assert scores[["shape_drift_p", "embedding_drift_p"]].apply(lambda c: c.between(0, 1)).all().all()
    # The reference donors' own images, at the reference's pixel size; one tiny field a donor makes its
    # sharpness noisy (the demo test checks the focus flag on four fields a donor).
    assert scores["focus_ratio"].between(0.5, 2).all() and (scores["pixel_size_ratio"] == 1).all()
    # Each lot's interval variance in its three parts, their shares summing to one.
    precision = pd.read_csv(root / "results/score/precision.tsv", sep="\t").set_index("donor")
    parts = ["variance_lot", "variance_reference", "variance_donors"]
    assert list(precision.index) == list(scores["donor"]) and (precision[parts] >= 0).all().all()
    shares = precision[["share_lot", "share_reference", "share_donors"]].sum(axis=1)
    assert np.allclose(shares, 1) and np.allclose(precision[parts], scores.set_index("donor")[parts])
    html = (root / "results/report/score_report.html").read_text()
    assert 'id="verdicts"' in html and "S8" in html and "MANIFEST.sha256" in html
    assert "was imaged, are each cell" in html and "mean over the whole cell." in html  # how SSEA3 labelled
    assert "cross-fitted probabilistic adjusted classify and count" in html


def test_a_lot_brought_with_its_own_masks_is_held_against_a_reference_the_watershed_cut(scored):
    _, root, _, _ = scored
    scores = pd.read_csv(root / "results/score/donor_scores.tsv", sep="\t", keep_default_na=False)
    flags = scores.set_index("donor")["flags"]
    why = "segmented by the lab's own masks (QuPath 0.5), the reference by the workflow's watershed"
    assert why in flags["S1m"] and not flags.drop("S1m").str.contains("segmented by").any()
    cells = pd.read_csv(root / "results/score/cells/S1m.tsv", sep="\t")
    assert set(cells["segmented_by"]) == {"masks"} and set(cells["segmentation_tool"]) == {"QuPath 0.5"}


def test_the_deployed_fraction_is_edge_corrected_from_the_bundle_to_the_lot(scored):
    """The reference cells' edge weights travel in the bundle, the lot's in its cell table, and the
    fraction a run reports is the weighted cross-fitted estimate of both."""
    from morphopotency.score.bundle import bundle_scorer
    from morphopotency.scorers import PROB_COLUMN

    _, root, bundle, _ = scored
    scores = pd.read_csv(root / "results/score/donor_scores.tsv", sep="\t").set_index("donor")
    scorer = bundle_scorer(load(bundle), {"model": "auto"})[0]
    assert (scores["scorer"] == scorer).all()
    fit = load(bundle).crossfit(scorer)
    assert fit is not None and fit.weights is not None and all((w >= 1).all() for w in fit.weights)
    cells = pd.read_csv(root / "results/score/cells/S1.tsv", sep="\t")
    assert (cells["edge_weight"] >= 1).all()
    lot = cells[[f"{PROB_COLUMN[scorer]}{d}" for d in fit.donors]].to_numpy(float)
    assert scores.loc["S1", "fraction"] == pytest.approx(fit.estimate(lot, cells["edge_weight"].to_numpy()))


def test_a_lot_imaged_at_another_pixel_size_is_resampled_to_the_reference_and_held(scored):
    """S8x is S8 imaged at 0.6 um: the bundle (trained on 0.8-um images as they were, resample_um null)
    brings it back to 0.8 um before segmentation, so its cells measure like S8's; it is flagged and held
    all the same, as the model never saw resampled images."""
    _, root, _, _ = scored
    cells = pd.concat(
        pd.read_csv(root / f"results/score/cells/{d}.tsv", sep="\t", dtype={"donor": str})
        for d in ("S8", "S8x")
    ).set_index("donor")
    assert (cells.loc["S8x", "imaged_pixel_size_um"] == 0.6).all() and (cells["pixel_size_um"] == 0.8).all()
    assert len(cells.loc["S8x"]) == pytest.approx(len(cells.loc["S8"]), rel=0.2)
    assert cells.loc["S8x", "area"].median() == pytest.approx(cells.loc["S8", "area"].median(), rel=0.15)
    labels = tifffile_shape(root / "results/imaging/segmentation/S8x")
    assert labels == tifffile_shape(root / "results/imaging/segmentation/S8")
    scores = pd.read_csv(root / "results/score/donor_scores.tsv", sep="\t").set_index("donor")
    assert scores.loc["S8x", "imaged_pixel_size_ratio"] == pytest.approx(0.75)
    assert "imaged at 0.6 um a pixel, the reference at 0.8 um: resampled to it" in scores.loc["S8x", "flags"]
    assert "resampled" not in scores.loc["S8", "flags"]
    assert scores.loc["S8x", "verdict"].startswith("hold: flagged")


def tifffile_shape(folder) -> set[tuple[int, ...]]:
    import tifffile

    return {tifffile.imread(p).shape for p in folder.glob("*.tif")}


def test_a_tampered_bundle_stops_the_scoring_run_before_any_job(scored, tmp_path):
    _, _, bundle, _ = scored
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    (copy / "cnn/model.json").write_text((copy / "cnn/model.json").read_text().replace("0.", "0.1", 1))
    root = scoring_project(tmp_path / "lab", copy)
    (tmp_path / "clean_images").symlink_to(bundle.parent.parent / "clean_images")
    result = snakemake(root, "--dry-run")
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "Select jobs to execute" not in out
    assert "score.bundle:" in out and "cnn/model.json: changed since export" in out, out[-2000:]


def test_the_shipped_score_config_runs_in_a_folder_of_its_own(cnn_run):
    """config/score.yaml as shipped, in scoring/ beside a finished training run (README recipe); the
    training run's results are left as they were."""
    import yaml

    from tests.conftest import REPO

    folder = cnn_run / "scoring"
    (folder / "config").mkdir(parents=True)
    shutil.copy(REPO / "config/score.yaml", folder / "config")
    shipped = (REPO / "config/score_samples.tsv").read_text().splitlines()
    # The tiny training run imaged three of the demo's five donors.
    kept = [shipped[0], *(r for r in shipped[1:] if r.split("\t")[1] in {"S1", "S8", "S9"})]
    (folder / "config/score_samples.tsv").write_text("\n".join(kept) + "\n")
    assert yaml.safe_load((folder / "config/score.yaml").read_text())["score"]["bundle"] == "../results/model"
    before = (cnn_run / "results/imaging/cells/S8.h5ad").stat().st_mtime_ns
    assert_lint_clean(folder, "--configfile", str(folder / "config/score.yaml"))
    run = snakemake(folder, "--configfile", str(folder / "config/score.yaml"))
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert (folder / "results/report/score_report.html").is_file()
    assert (cnn_run / "results/imaging/cells/S8.h5ad").stat().st_mtime_ns == before


def test_score_report_opens_offline_in_a_browser(scored, tmp_path):
    from tests.browser import CHROMIUM, DRIVER, inspect_page

    assert CHROMIUM and DRIVER, (
        "chromium and chromium-driver are missing: `make test` installs them with apt-get"
    )
    _, root, _, _ = scored
    page = root / "results/report/score_report.html"
    result = inspect_page(page, tmp_path / "score.png")
    assert result["sections"] == ["verdicts", "method", "validation", "quality", "shape-modes", "provenance"]
    assert result["images"] and all(i["complete"] and i["width"] > 0 for i in result["images"])
    assert [u for u in result["requests"] if u != result["url"] and not u.startswith("data:")] == []


def test_the_run_writes_a_qc_record_a_person_can_read_and_file(scored, tmp_path):
    """As a QC scientist sees it: every lot's verdict in the first 1,280 x 800 viewport, no table wider
    than its container, and the run's PDF naming the bundle and each lot's verdict on page one."""
    import subprocess

    from morphopotency.report.readable import verdict_word
    from tests.browser import inspect_layout

    _, root, bundle, _ = scored
    scores = pd.read_csv(root / "results/score/donor_scores.tsv", sep="\t", dtype={"donor": str})
    layout = inspect_layout(root / "results/report/score_report.html", tmp_path / "viewport.png")
    assert [(lot["name"], lot["verdict"]) for lot in layout["lots"]] == list(
        zip(scores["donor"], scores["verdict"].map(verdict_word))
    )
    assert all(lot["bottom"] <= 800 for lot in layout["lots"]), layout["lots"]
    assert layout["overflowing"] == [] and layout["opened"] == [] and not layout["scrollsSideways"]
    assert layout["leadFigure"]["bottom"] <= 800 and not [h for h in layout["visibleHeaders"] if "_" in h]
    html = (root / "results/report/score_report.html").read_text()
    assert 'id="method"' in html and "Each lot&#x27;s share of cells in each shape mode" in html
    pdf = root / "results/report/score_report.pdf"
    first = subprocess.run(["pdftotext", "-f", "1", "-l", "1", pdf, "-"], capture_output=True, text=True)
    flat = re.sub(r"\s+", "", first.stdout)
    assert load(bundle).digest() in flat, first.stdout
    for name, word in zip(scores["donor"], scores["verdict"].map(verdict_word)):
        assert name in first.stdout and word in first.stdout, (name, word)
    assert all(w in first.stdout for w in ("Analyst", "Reviewer", "Date of decision", "Decision"))


def test_a_mixed_run_scores_its_new_donor_with_its_own_bundle_never_training_on_it(cnn_run):
    """The tiny run's sheet marks N1 as a donor to score: imaged without SSEA3 (and out of focus), its
    cells segmented like the others', kept out of training, shape-mode fitting and the error rates, and
    scored by the run's own bundle; the simulation's truth validates the score."""
    import anndata as ad
    import tifffile

    with tifffile.TiffFile(cnn_run / "results/demo/images/N1/N1_field01.ome.tif") as tif:
        assert "SSEA3" not in tif.ome_metadata
    assert "ssea3_8bit" not in ad.read_h5ad(cnn_run / "results/imaging/cells/N1.h5ad").obs
    trained = pd.read_csv(cnn_run / "results/cnn/data/cells.tsv", sep="\t", dtype={"donor": str})
    assert set(trained["donor"]) == {"S1", "S8", "S9"}
    fitted = pd.read_csv(cnn_run / "results/imaging/shape_modes/assignments.tsv", sep="\t")
    assert "N1" not in set(fitted["donor"])
    scores = pd.read_csv(cnn_run / "results/score/donor_scores.tsv", sep="\t")
    assert list(scores["donor"]) == ["N1"] and scores.loc[0, "focus_ratio"] < 1
    known = pd.read_csv(cnn_run / "results/score/validation.tsv", sep="\t")
    assert list(known["donor"]) == ["N1"] and known.loc[0, "known_from"] == "simulated"
    truth = pd.read_csv(cnn_run / "results/demo/truth/donors.tsv", sep="\t").set_index("donor")
    assert known.loc[0, "known_fraction"] == truth.loc["N1", "realised_fraction"]
    lodo = pd.read_csv(cnn_run / "results/cnn/lodo/fractions.tsv", sep="\t")
    assert set(lodo["donor"]) == {"S1", "S8", "S9"}
    assert (cnn_run / "results/model/metrics/lodo_validation.tsv").is_file()
    shift = pd.read_csv(cnn_run / "results/model/reference/donor_shift.tsv", sep="\t")
    assert list(shift["donor"]) == ["S1", "S8", "S9"]  # what the *_donor estimators move the rates by
    # Cross-fitting: every LODO model, and each one's predictions of the donor it left out.
    bundle = load(cnn_run / "results/model")
    assert list(bundle.lodo_models()) == ["S1", "S8", "S9"]
    fit = bundle.crossfit()
    lodo_cells = pd.read_csv(cnn_run / "results/cnn/lodo/S8/predictions.tsv", sep="\t")
    s8 = lodo_cells[lodo_cells["role"] == "test"]
    assert list(fit.donors) == ["S1", "S8", "S9"] and np.allclose(fit.prob[1], s8["prob"])
    assert (s8["donor"] == "S8").all()  # the cells of the donor the model never trained on
    html = (cnn_run / "results/report/score_report.html").read_text()
    assert "leave-one-donor-out validation" in html and "N1" in html


def test_the_study_collects_every_estimator_and_the_deployed_verdict_from_a_mixed_run(cnn_run):
    """bench/score_study.py's collection on the tiny run's new lot N1: every estimator, the deployed one
    as the run scored it, and the truth among N1's segmented cells (all matched to planted cells)."""
    import sys

    from morphopotency.prevalence import METHODS
    from tests.conftest import REPO

    sys.path.insert(0, str(REPO / "bench"))
    from score_study import collect

    lots = collect(cnn_run, "tiny", n_boot=50)
    scores = pd.read_csv(cnn_run / "results/score/donor_scores.tsv", sep="\t").set_index("donor")
    # Every single-model estimator, the cross-fitted one with each scorer, and the one the run deployed.
    fixed = [f"pacc_cross_{s}" for s in ("cnn", "shape", "combined")]
    assert sorted(lots["estimator"]) == sorted([*METHODS, *fixed, "pacc_cross"]) and set(lots["lot"]) == {
        "N1"
    }
    deployed = lots[lots["deployed"]].iloc[0]
    assert deployed["estimator"] == scores.loc["N1", "estimator"] and lots["deployed"].sum() == 1
    # The deployed row is its scorer's own estimate, with the run's interval.
    scorer = lots[lots["estimator"] == f"pacc_cross_{scores.loc['N1', 'scorer']}"].iloc[0]
    assert deployed["estimate"] == pytest.approx(scorer["estimate"])
    assert (
        deployed["estimate"] == scores.loc["N1", "fraction"]
        and deployed["low_0.95"] == scores.loc["N1", "ci_low"]
    )
    assert (lots["matched"] > 0).all() and (lots["matched"] <= lots["cells"]).all()
    assert 0 <= lots["truth"].iloc[0] <= 1 and lots["held"].iloc[0] == scores.loc["N1", "verdict"].startswith(
        "hold"
    )
