"""The replicated validation study of a lot's score, in two arms, each R independent training cohorts
run through the deployed workflow (a mixed run: the reference donors train the bundle that scores the
lots, exactly as a lab's run does).

- **Simulated** (default): the demo's recipe and size, simulator seed and reference fractions varied,
  M unseen lots at fractions spread over 0.05-0.95 and two lots with a planted drift (blur, pixel size).
  A lot's truth is the share of its segmented cells SSEA3 staining would have labelled (its fields
  drawn again with SSEA3), weighted by the cells' edge correction as the deployed estimate is; lots.tsv
  keeps the unweighted share and the planted one beside it.
- **Real** (``--real DIR --positive A,B --negative C,D``): real labelled crops (DIR/<class>/), the classes
  pooled into two groups, tiled into fields with an Otsu mask per crop given as the lab's own masks
  (imaging.masks), 5 reference donors made of whole plates (the file names' first field) with a label
  channel, M lots at known fractions drawn from plates no reference donor holds, and two drifted lots:
  one blurred, one left to the workflow's watershed (segmented otherwise than the mask-built reference).
  A lot is a sample of a donor's cells (its positives binomial at its fraction), and its truth that
  fraction, edge-weighted alike; lots.tsv keeps the positive share of the cells the workflow kept beside.

Per estimator: mean signed error with its 95 % interval (t on the cohorts' means), mean absolute and
maximum error, the slope of signed error against the true fraction, coverage of the 95 % intervals
overall and by band of true fraction, mean half-width; coverage at nominal 50-95 %; and the share of
clean lots the drift and QC checks hold and of drifted lots they catch. pacc_cross is what each run
deployed (its scorer chosen by score.model auto); pacc_cross_cnn, _shape and _combined are the
cross-fitted estimate with each scorer, so the choice is validated against every fixed one
(scorers.tsv: each cohort's expected half-width per scorer, the rule's evidence, beside the realised).

Each cohort is a workflow run in a folder of its own under --out, so a stopped study resumes where it
stopped (Snakemake keeps finished jobs; a cohort's collected lots are kept). It prints the wall time of
every stage of every cohort and the summary tables, and writes study.tsv, coverage.tsv, holds.tsv,
cohorts.tsv (the deployed estimator by cohort), calibration.tsv (its errors in units of each lot's
interval sd, by band), scorers.tsv, labels.tsv (simulated: the reference cells' SSEA3 labels against
the classes planted), lots.tsv and study.png under --out (the real arm's with the suffix _real).

After a change to the estimator alone, --rescore redoes only the scoring step of cohorts that ran.

Run: .venv/bin/python bench/score_study.py [--cohorts 3] [--lots 10] [--large [--large-index N]]
     [--real DIR --positive A,B --negative C,D] [--rescore] [--publish] [--out results/study]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from score_run import stage_seconds  # noqa: E402  (the bench folder is no package)

from morphopotency.io.atomic import atomic_path  # noqa: E402
from morphopotency.prevalence import CROSS_FITTED, METHODS, PARTS  # noqa: E402
from morphopotency.report.study import study_quote  # noqa: E402
from morphopotency.score.bundle import load  # noqa: E402
from morphopotency.score.donors import bundle_reference, lot_weighting  # noqa: E402
from morphopotency.score.study import (  # noqa: E402
    band_calibration,
    cohort_errors,
    coverage_curve,
    cross_estimates,
    error_table,
    hold_rates,
    label_agreement,
    labelled_truth,
    lot_estimates,
    scorer_rule,
    segmented_truth,
    shared_calibration,
)
from morphopotency.scorers import PROB_COLUMN  # noqa: E402
from morphopotency.simulate.crops import (  # noqa: E402
    LABEL,
    SHAPE,
    donors_of_plates,
    draw,
    read_crops,
    separability,
    split_plates,
    write_cohort,
)

DRIFTS = {"B1": ("blur", 2.5, "out of focus (blur 2.5 px)"), "P1": ("pixel_size_um", 0.6, "imaged at 0.6 um")}


def cohort_plan(index: int, lots: int, large: bool, seed: int) -> tuple[dict, list[str], dict[str, float]]:
    """(config, sample-sheet rows, true lot fractions as planted) of one cohort: the shipped demo config
    with RNA-seq and the donor report off (scoring needs neither), its own simulator seed and reference
    fractions; lots L01.. at fractions spread over 0.05-0.95 and the drifted lots B1, P1 at 0.5."""
    rng = np.random.default_rng(seed + index)
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config.pop("rnaseq", None)
    config["report"] = {"enabled": False}
    demo = config["demo"]
    demo["seed"] = int(seed * 1000 + index)
    n_reference = 10 if large else 5
    demo["fields_per_donor"] = 7 if large else demo["fields_per_donor"]  # ~200 cells a donor, else ~110
    reference = {f"R{i + 1:02d}": round(float(rng.uniform(0.3, 0.75)), 3) for i in range(n_reference)}
    spread = np.linspace(0.05, 0.95, lots) + rng.uniform(-0.02, 0.02, lots)
    planted = {f"L{i + 1:02d}": round(float(np.clip(f, 0.02, 0.98)), 3) for i, f in enumerate(spread)}
    planted |= dict.fromkeys(DRIFTS, 0.5)
    demo["multipotent_fraction"] = reference | planted
    demo["field_scale"] = dict.fromkeys(planted, 2)  # ~400 cells a lot
    demo["pixel_size_um"] = {d: v for d, (key, v, _) in DRIFTS.items() if key == "pixel_size_um"}
    demo["blur"] = {d: v for d, (key, v, _) in DRIFTS.items() if key == "blur"}
    rows = [f"{d}\t{d}\tstem\t\tresults/demo/images/{d}\treference" for d in reference]
    rows += [f"{d}\t{d}\tstem\t\tresults/demo/images/{d}\tscore" for d in planted]
    return config, rows, planted


def run_cohort(
    folder: Path, config: dict, rows: list[str], cores: int, extra: tuple[str, ...] = ()
) -> dict[str, float]:
    """The workflow in ``folder`` (resumed if it ran before); seconds by rule, from Snakemake's log."""
    (folder / "config").mkdir(parents=True, exist_ok=True)
    (folder / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    header = "sample\tdonor\tcondition\trnaseq_column\timages\trole\n"
    (folder / "config/samples.tsv").write_text(header + "\n".join(rows) + "\n")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(folder)]
    start = time.perf_counter()
    run = subprocess.run(
        [*cmd, "--cores", str(cores), "--rerun-incomplete", *extra], capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    (folder / "snakemake.log").write_text(run.stdout + run.stderr)
    if run.returncode != 0:
        sys.exit(f"{folder}: the workflow failed; see {folder / 'snakemake.log'}\n{run.stderr[-3000:]}")
    return {"workflow (wall)": wall, **stage_seconds(run.stdout + run.stderr)}


def lot_ssea3(demo: dict, lot: str) -> dict[str, np.ndarray]:
    """image -> the SSEA3 plane of a lot imaged without it: the simulator draws a donor's fields
    deterministically, so drawing them again with every channel gives the very cells, SSEA3 included."""
    from morphopotency.simulate import CHANNELS, simulate_donor

    scale = demo.get("field_scale", {}).get(lot, 1)
    fields = simulate_donor(
        int(demo["seed"]),
        lot,
        int(demo["fields_per_donor"]),
        int(demo["image_size"]) * scale,
        int(demo["cells_per_field"]) * scale**2,
        float(demo["multipotent_fraction"][lot]),
        float(demo.get("blur", {}).get(lot, 1.0)),
    )
    return {name: field.image[CHANNELS.index("SSEA3")] for name, field in fields}


def reference_labels(folder: Path) -> pd.DataFrame:
    """SSEA3 labels of the reference donors' segmented cells against their planted classes, measured over
    each region (score.study.label_agreement), summed over the cohort's fields."""
    from morphopotency.simulate import CHANNELS

    results = folder / "results"
    cut = float(load(results / "model").settings["imaging"]["ssea3_cut_8bit"])
    sheet = pd.read_csv(folder / "config/samples.tsv", sep="\t", dtype=str)
    tables = []
    for donor in sheet.loc[sheet["role"] == "reference", "donor"]:
        planted = pd.read_csv(results / f"demo/truth/cells_{donor}.tsv", sep="\t", dtype={"image": str})
        for mask_file in sorted((results / f"demo/truth/masks/{donor}").glob("*.ome.tif")):
            image = mask_file.name.removesuffix(".ome.tif")
            ssea3 = tifffile.imread(results / f"demo/images/{donor}/{image}.ome.tif")[CHANNELS.index("SSEA3")]
            labels = tifffile.imread(results / f"imaging/segmentation/{donor}/{image}.tif")
            cells = planted[planted["image"] == image]
            tables.append(label_agreement(labels, ssea3, tifffile.imread(mask_file), cells, 65535.0, cut))
    return pd.concat(tables).groupby("region", sort=False).sum().reset_index()


def lot_rows(bundle, cells: pd.DataFrame, row: pd.Series, n_boot: int, seed: int) -> pd.DataFrame:
    """Every estimator's estimate and intervals of one lot from the run's bundle and its cells'
    probabilities: the single-model ones, the cross-fitted one with each scorer the bundle holds
    (pacc_cross_<scorer>), and pacc_cross, the one the run deployed (its own scorer, and its own interval
    from score.bootstrap resamples, not redrawn); ``deployed`` marks the run's estimator."""
    table = lot_estimates(
        bundle_reference(bundle), cells["prob"].to_numpy(float), METHODS, n_boot=n_boot, seed=seed
    )
    frames = [table]
    scorers = ["cnn", *bundle.scorer_models()] if bundle.lodo_models() else []
    for scorer in scorers:
        fit, weight = lot_weighting(bundle.crossfit(scorer), cells)
        lot_prob = cells[[f"{PROB_COLUMN[scorer]}{d}" for d in fit.donors]].to_numpy(float)
        estimates = cross_estimates(fit, lot_prob, n_boot=n_boot, seed=seed, lot_weight=weight)
        frames.append(estimates.assign(estimator=f"{CROSS_FITTED}_{scorer}"))
        if scorer == row.get("scorer", "cnn"):
            frames.append(estimates)  # estimator pacc_cross: what the run deployed
    table = pd.concat(frames, ignore_index=True)
    deployed = table["estimator"] == row["estimator"]
    table.loc[deployed, ["estimate", "low_0.95", "high_0.95"]] = [
        row["fraction"],
        row["ci_low"],
        row["ci_high"],
    ]
    return table.assign(
        deployed=deployed,
        scorer=row.get("scorer", "cnn"),
        held=str(row["verdict"]).startswith("hold"),
        # The deployed interval's variance by part (pacc_cross; NaN for other estimators).
        **{f"variance_{p}": row.get(f"variance_{p}", np.nan) for p in PARTS},
        flags=row["flags"] if isinstance(row["flags"], str) else "",
    )


def run_scores(folder: Path) -> pd.DataFrame:
    results = folder / "results"
    return pd.read_csv(results / "score/donor_scores.tsv", sep="\t", dtype={"donor": str}).set_index("donor")


def collect(folder: Path, cohort: str, n_boot: int) -> pd.DataFrame:
    """Simulated arm: every estimator's estimate and intervals of every lot (lot_rows), the truth among
    its segmented cells, and the deployed run's verdict (held or not)."""
    import anndata as ad

    results = folder / "results"
    bundle = load(results / "model")
    settings = yaml.safe_load((folder / "config/config.yaml").read_text())
    scores = run_scores(folder)
    seed = int(settings.get("score", {}).get("seed", 0))
    cut = float(bundle.settings["imaging"]["ssea3_cut_8bit"])
    region = bundle.ssea3_region()
    frames = []
    for lot in scores.index:
        cells = pd.read_csv(results / f"score/cells/{lot}.tsv", sep="\t", dtype={"image": str})
        obs = ad.read_h5ad(results / f"imaging/cells/{lot}.h5ad").obs.copy()
        if {"pixel_size_um", "imaged_pixel_size_um"} <= set(obs):  # a resampled lot: back to its pixels
            scale = obs["pixel_size_um"].astype(float) / obs["imaged_pixel_size_um"].astype(float)
            obs["centroid_row"], obs["centroid_col"] = (
                obs["centroid_row"] * scale,
                obs["centroid_col"] * scale,
            )
        truth_dir = results / "demo/truth"
        masks = {
            image: tifffile.imread(truth_dir / f"masks/{lot}/{image}.ome.tif")
            for image in obs["image"].unique()
        }
        planted = pd.read_csv(truth_dir / f"cells_{lot}.tsv", sep="\t", dtype={"image": str})
        truth, matched = segmented_truth(obs, masks, planted)
        # What SSEA3 would have labelled: clean lots only, imaged at the reference's pixels.
        labelled = unweighted = np.nan
        if lot not in DRIFTS:
            segmented = {
                image: tifffile.imread(results / f"imaging/segmentation/{lot}/{image}.tif")
                for image in obs["image"].unique()
            }
            ssea3 = lot_ssea3(settings["demo"], lot)
            labelled, _ = labelled_truth(obs, segmented, ssea3, 65535.0, cut, region)
            # Every cell counted once, as the reference's labelled fractions are (for comparison only).
            counted = obs.drop(columns="edge_weight", errors="ignore")
            unweighted, _ = labelled_truth(counted, segmented, ssea3, 65535.0, cut, region)
        frames.append(
            lot_rows(bundle, cells, scores.loc[lot], n_boot, seed).assign(
                cohort=cohort,
                lot=lot,
                cells=len(cells),
                matched=matched,
                planted_truth=truth,
                unweighted_truth=unweighted,
                truth=labelled if np.isfinite(labelled) else truth,
                drift=DRIFTS.get(lot, (None, None, ""))[2],
            )
        )
    return pd.concat(frames, ignore_index=True)


# The real arm's drifted lots: one blurred, one left to the watershed (its reference was built from masks).
REAL_DRIFTS = {
    "B1": ("blur", 2.0, "out of focus (blur 2 px)"),
    "W1": ("watershed", None, "segmented by the watershed, the reference from masks"),
}
REAL_DONORS, REAL_LOT_CELLS = 5, 120


def real_cohort_plan(
    index: int, lots: int, seed: int, crops: pd.DataFrame, data: Path, lot_cells: int = REAL_LOT_CELLS
) -> tuple[dict, list[str], dict[str, float]]:
    """(config, sample-sheet rows, lot fractions as drawn) of one real-cell cohort, its fields written
    under ``data``: plates split between the reference and the lots (half of each class's crops each
    way), the reference plates into REAL_DONORS donors (all their crops, their own mix), lots L01.. of
    ``lot_cells`` crops at fractions spread over 0.05-0.95 and the drifted lots at 0.5, drawn from the
    lots' plates (a crop recurs across lots of a cohort, never between its reference and its lots)."""
    rng = np.random.default_rng([seed, 1000 + index])
    data = Path(data).resolve()  # the workflow runs in the cohort's folder: its paths must not be relative
    reference_plates, lot_plates = split_plates(crops, 0.5, rng)
    reference = crops[crops["plate"].isin(reference_plates)]
    pool = crops[crops["plate"].isin(lot_plates)]
    # All of a donor's crops, shuffled: the fields then mix its classes as a donor's own would.
    donors = {
        f"R{i + 1:02d}": reference[reference["plate"].isin(plates)].sample(frac=1, random_state=rng)
        for i, plates in enumerate(donors_of_plates(reference, REAL_DONORS, rng))
    }
    spread = np.clip(np.linspace(0.05, 0.95, lots) + rng.uniform(-0.02, 0.02, lots), 0.02, 0.98)
    planted = {f"L{i + 1:02d}": float(f) for i, f in enumerate(spread)} | dict.fromkeys(REAL_DRIFTS, 0.5)
    # A lot is a sample of a donor's cells: its positives Binomial(cells, fraction), and its truth the
    # fraction itself (collect_real), as the interval, which carries that sampling, claims it.
    lots_drawn = {lot: draw(pool, f, lot_cells, rng, binomial=True) for lot, f in planted.items()}
    blur = {d: v for d, (kind, v, _) in REAL_DRIFTS.items() if kind == "blur"}
    write_cohort(data, donors | lots_drawn, list(donors), seed * 1000 + index, blur=blur)
    with atomic_path(data / "planted.json") as tmp:
        tmp.write_text(json.dumps(planted, indent=1) + "\n")
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config.pop("rnaseq", None)
    config["report"] = {"enabled": False}
    config["demo"] = {"enabled": False}
    watershed = [d for d, (kind, _, _) in REAL_DRIFTS.items() if kind == "watershed"]
    # The fields are the crops' own scale (no resampling); a 64-px window keeps each cell's size as the
    # crops had it; masks of every donor but the watershed's lot, their tool read from the files' tag.
    config["imaging"] |= {
        "channels": {"shape": SHAPE, "label": LABEL, "nuclei": None},
        "resample_um": None,
        "crop_window": 64,
        "masks": {
            d: str(data / "masks/{donor}/{image}.tif") for d in [*donors, *lots_drawn] if d not in watershed
        },
    }
    rows = [f"{d}\t{d}\tstem\t\t{data}/images/{d}\treference" for d in donors]
    rows += [f"{d}\t{d}\tstem\t\t{data}/images/{d}\tscore" for d in lots_drawn]
    return config, rows, planted


def collect_real(folder: Path, cohort: str, n_boot: int) -> pd.DataFrame:
    """Real arm: lot_rows of every lot, its truth the fraction its crops were sampled at, edge-weighted as
    the deployed estimate is (population_share, with the mean edge weight of each group's kept cells);
    ``planted_truth`` the weighted positive share of the cells the workflow kept (each cell the crop its
    label was drawn from), ``unweighted_truth`` the fraction itself."""
    results = folder / "results"
    bundle = load(results / "model")
    settings = yaml.safe_load((folder / "config/config.yaml").read_text())
    seed = int(settings.get("score", {}).get("seed", 0))
    scores = run_scores(folder)
    planted = json.loads((folder / "data/planted.json").read_text())
    frames = []
    for lot in scores.index:
        cells = pd.read_csv(results / f"score/cells/{lot}.tsv", sep="\t", dtype={"image": str})
        truth, kept, matched = np.nan, np.nan, 0
        if REAL_DRIFTS.get(lot, ("",))[0] != "watershed":  # the watershed's cells are not the crops' ids
            drawn = pd.read_csv(folder / f"data/truth/{lot}.tsv", sep="\t", dtype={"image": str})
            known = cells.merge(drawn[["image", "cell_id", "label"]], on=["image", "cell_id"], how="inner")
            matched = len(known)
            weights = known["edge_weight"] if "edge_weight" in known else pd.Series(1.0, index=known.index)
            kept = float(np.average(known["label"], weights=weights)) if matched else np.nan
            truth = population_share(planted[lot], known["label"].to_numpy(), weights.to_numpy())
        frames.append(
            lot_rows(bundle, cells, scores.loc[lot], n_boot, seed).assign(
                cohort=cohort,
                lot=lot,
                cells=len(cells),
                matched=matched,
                planted_truth=kept if matched else np.nan,
                unweighted_truth=planted[lot],
                truth=truth,
                drift=REAL_DRIFTS.get(lot, (None, None, ""))[2],
            )
        )
    return pd.concat(frames, ignore_index=True)


def population_share(fraction: float, labels: np.ndarray, weights: np.ndarray) -> float:
    """The edge-weighted share of positives in a population holding ``fraction`` of them, each group's
    cells weighing as the lot's kept ones do on average: f w1 / (f w1 + (1 - f) w0)."""
    labels = np.asarray(labels).astype(bool)
    if not labels.any() or labels.all():
        return float(fraction)
    w1, w0 = float(np.mean(weights[labels])), float(np.mean(weights[~labels]))
    return float(fraction * w1 / (fraction * w1 + (1 - fraction) * w0))


def scorer_evidence(folder: Path, cohort: str, lots: pd.DataFrame) -> pd.DataFrame:
    """Per scorer of one cohort: the rule's evidence (the bundle's expected half-width and out-of-donor
    ROC-AUC, metrics/scorers.tsv), whether the run chose it, and what its clean lots' intervals came to."""
    table = load(folder / "results/model").scorers()
    if table is None:
        return pd.DataFrame()
    clean = lots[lots["drift"] == ""]
    realised = (
        clean[clean["estimator"].str.startswith(f"{CROSS_FITTED}_")]
        .assign(scorer=lambda t: t["estimator"].str.removeprefix(f"{CROSS_FITTED}_"))
        .assign(
            half_width=lambda t: (t["high_0.95"] - t["low_0.95"]) / 2,
            abs_error=lambda t: (t["estimate"] - t["truth"]).abs(),
        )
        .groupby("scorer")[["half_width", "abs_error"]]
        .mean()
    )
    chosen = clean["scorer"].iloc[0] if len(clean) else ""
    return table.assign(cohort=cohort, chosen=table["scorer"] == chosen).join(
        realised.rename(columns=lambda c: f"realised_{c}"), on="scorer"
    )


def figure(lots: pd.DataFrame, curve: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clean = lots[lots["drift"] == ""]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method, part in clean.groupby("estimator", sort=False):
        left.scatter(part["truth"], part["estimate"] - part["truth"], s=12, label=method, alpha=0.7)
    left.axhline(0, color="grey", lw=0.8)
    left.set(xlabel="true multipotent fraction (segmented cells)", ylabel="signed error", title="Clean lots")
    left.legend(fontsize=7, ncol=2)
    for method, part in curve.groupby("estimator", sort=False):
        right.plot(part["nominal"], part["observed"], marker="o", label=method)
    right.plot([0.4, 1], [0.4, 1], color="grey", lw=0.8, ls="--")
    right.set(xlabel="nominal coverage", ylabel="observed coverage", title="Intervals")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def variance_shares(deployed: pd.DataFrame) -> pd.Series | None:
    """Mean over lots of each part's share of the deployed interval's variance (lot, reference, donors)."""
    columns = [f"variance_{p}" for p in PARTS]
    if not set(columns) <= set(deployed) or deployed[columns].isna().all().all():
        return None
    values = deployed[columns].astype(float)
    return values.div(values.sum(axis=1), axis=0).mean().rename(lambda c: c.removeprefix("variance_"))


def study_meta(
    clean: pd.DataFrame,
    holds: pd.DataFrame,
    deployed: str,
    shares: pd.Series | None,
    args: argparse.Namespace,
    reference: str,
) -> dict:
    """What the table was measured on, and the rest of what the documents quote (holds, variance parts)."""
    from morphopotency.provenance import git_commit

    real = ""
    if args.real:
        real = f" --real {args.real_name or args.real} --positive {args.positive} --negative {args.negative}"
        real += f" --real-cohorts {args.real_cohorts} --real-lots {args.real_lots}"
    return {
        "cohorts": int(clean["cohort"].nunique()),
        "lots": int(len(clean[["cohort", "lot"]].drop_duplicates())),
        "reference": reference,
        "commit": git_commit(REPO),
        "command": f"bench/score_study.py --cohorts {args.cohorts} --lots {args.lots} --seed {args.seed}"
        + (" --large" if args.large else "")
        + (f" --large-index {args.large_index}" if args.large and args.large_index is not None else "")
        + real
        + (" --rescore" if args.rescore else ""),
        "deployed": deployed,
        "holds": holds.to_dict("records"),
        **({"variance": shares.round(4).to_dict()} if shares is not None else {}),
    }


def publish(table: pd.DataFrame, meta: dict, real: pd.DataFrame | None = None) -> None:
    """The tables the reports quote (morphopotency.report.study: the simulated arm's, and the real arm's
    where it ran, its meta under "real"), and their quote in the README and the methods, between their
    study markers."""
    from morphopotency.report.study import QUOTED_IN, STUDY, STUDY_META, STUDY_REAL, quote_study, study_quote

    (REPO / STUDY).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(REPO / STUDY, sep="\t", index=False, float_format="%.4g")
    if real is not None:
        real.to_csv(REPO / STUDY_REAL, sep="\t", index=False, float_format="%.4g")
    (REPO / STUDY_META).write_text(json.dumps(meta, indent=1) + "\n")
    # Quote what the reports will read, rounding and all.
    published = pd.read_csv(REPO / STUDY, sep="\t")
    published_real = pd.read_csv(REPO / STUDY_REAL, sep="\t") if real is not None else None
    for document, brief in QUOTED_IN.items():
        path = REPO / document
        path.write_text(quote_study(path.read_text(), study_quote(published, meta, published_real, brief)))


def summarise(part: pd.DataFrame, label: str, suffix: str, args: argparse.Namespace, reference: str) -> dict:
    """One arm's (or the larger reference's) tables, printed and written under --out with ``suffix``:
    (table, meta, clean lots)."""
    out = args.out
    clean = part[part["drift"] == ""]
    table, curve = error_table(clean), coverage_curve(clean)
    table.to_csv(out / f"study{suffix}.tsv", sep="\t", index=False)
    curve.to_csv(out / f"coverage{suffix}.tsv", sep="\t", index=False)
    deployed = sorted(set(part.loc[part["deployed"], "estimator"]))
    lots = clean[["cohort", "lot"]].drop_duplicates()
    print(f"\n{label}: {clean['cohort'].nunique()} cohorts, {len(lots)} clean lots")
    print(f"estimator the runs deployed (score.estimator auto): {', '.join(deployed)}")
    chosen = part.drop_duplicates("cohort").groupby("scorer").size()
    print(f"scorer the runs chose (score.model auto), cohorts: {chosen.to_dict()}")
    print(table.round(3).to_string(index=False))
    print(curve.pivot(index="estimator", columns="nominal", values="observed").round(3).to_string())
    holds = hold_rates(part.drop_duplicates(["cohort", "lot"]))
    holds.to_csv(out / f"holds{suffix}.tsv", sep="\t", index=False)
    print(holds.to_string(index=False))
    shares = variance_shares(part[part["deployed"] & (part["drift"] == "")])
    if shares is not None:
        print("share of the deployed interval's variance, mean over lots:", shares.round(3).to_dict())
        shares.to_frame("mean_share").to_csv(out / f"variance{suffix}.tsv", sep="\t")
    meta = study_meta(clean, holds, deployed[0] if deployed else "", shares, args, reference)
    meta["scorers_chosen"] = {str(k): int(v) for k, v in chosen.items()}
    if part["arm"].iloc[0] == "simulated":
        names = sorted(set(part["cohort"]))
        agreement = pd.concat([reference_labels(out / n) for n in names]).groupby("region", sort=False).sum()
        agreement.to_csv(out / f"labels{suffix}.tsv", sep="\t")
        print(f"SSEA3 labels of the reference cells against the planted classes:\n{agreement.to_string()}")
        meta["labels"] = agreement.reset_index().to_dict("records")
    if deployed:
        by_cohort = cohort_errors(clean[clean["estimator"] == deployed[0]])
        by_cohort.to_csv(out / f"cohorts{suffix}.tsv", sep="\t", index=False)
        print(f"{deployed[0]} by cohort:\n{by_cohort.round(3).to_string(index=False)}")
        meta["by_cohort"] = by_cohort.round(4).to_dict("records")
        shared = shared_calibration(by_cohort)
        print(
            f"cohorts' shared errors against their intervals: rms z {shared['rms_z']:.2f} over "
            f"{shared['cohorts']} cohorts, chi-square {shared['chi2']:.1f}, p = {shared['p']:.2f}"
        )
        meta["shared_calibration"] = {k: round(v, 4) for k, v in shared.items()}
        bands = band_calibration(clean[clean["estimator"] == deployed[0]])
        bands.to_csv(out / f"calibration{suffix}.tsv", sep="\t", index=False)
        print(f"{deployed[0]} errors in units of each lot's interval sd:\n{bands.round(2).to_string()}")
        meta["calibration"] = bands.round(4).to_dict("records")
    (out / f"study{suffix}.md").write_text(study_quote(table, meta))
    figure(part, curve, out / f"study{suffix}.png")
    return {"table": table, "meta": meta, "lots": len(lots)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohorts", type=int, default=3, help="independent simulated training cohorts (R)")
    parser.add_argument("--lots", type=int, default=10, help="clean lots per cohort (M), plus 2 drifted")
    parser.add_argument("--large", action="store_true", help="add one cohort of 10 donors x ~200 cells")
    parser.add_argument(
        "--large-index",
        type=int,
        default=None,
        help="the larger cohort's simulator index (default: --cohorts, the one after the demo-sized "
        "ones); give the index it ran with when adding cohorts, so it is kept",
    )
    parser.add_argument(
        "--real", type=Path, default=None, help="real labelled crops, one sub-folder per class"
    )
    parser.add_argument(
        "--positive", default="", help="--real: the class(es) of the positive group, comma-separated"
    )
    parser.add_argument("--negative", default="", help="--real: the class(es) of the negative group")
    parser.add_argument("--real-cohorts", type=int, default=3, help="--real: independent cohorts")
    parser.add_argument(
        "--real-lots", type=int, default=8, help=f"--real: clean lots of {REAL_LOT_CELLS} crops a cohort"
    )
    parser.add_argument("--real-name", default=None, help=argparse.SUPPRESS)  # how the command is quoted
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "results/study")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="cohorts that ran before: redo their scoring step (estimates, intervals, verdicts) with the "
        "code as it is now, keeping their images, segmentation and trained models, then collect again",
    )
    parser.add_argument(
        "--publish",
        action="store_true",
        help="write the study's tables to resources/validation/, where the reports quote them",
    )
    args = parser.parse_args(argv)
    if args.real and not (args.positive and args.negative):
        parser.error("--real needs --positive and --negative: the classes of each group")
    return args


def cohorts_of(args: argparse.Namespace) -> list[tuple[str, int, bool, str]]:
    """(name, index, large, arm) of every cohort: the simulated ones take the simulator indices 0, 1, ...
    passing over the large cohort's, so adding cohorts to a study that ran --large neither redraws it
    nor repeats its seed; the real ones their own draws."""
    large_index = args.cohorts if args.large_index is None else args.large_index
    indices = [i for i in range(args.cohorts + 1) if not (args.large and i == large_index)][: args.cohorts]
    cohorts = [(f"cohort{n + 1}", i, False, "simulated") for n, i in enumerate(indices)]
    if args.large:
        cohorts.append(("large", large_index, True, "simulated"))
    if args.real:
        cohorts += [(f"real{n + 1}", n, False, "real") for n in range(args.real_cohorts)]
    return cohorts


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    crops = None
    if args.real:
        crops = read_crops(args.real, args.positive.split(","), args.negative.split(","))
    frames, timing, evidence = [], {}, []
    for name, index, large, arm in cohorts_of(args):
        folder = args.out / name
        if arm == "simulated":
            config, rows, _ = cohort_plan(index, args.lots, large, args.seed)
        else:
            config, rows, _ = real_cohort_plan(index, args.real_lots, args.seed, crops, folder / "data")
        timing_file = folder / "timing.json"
        if args.rescore and timing_file.is_file():
            # Snakemake cannot see a change of the library, only of a rule's script or params: force it.
            rescored = run_cohort(folder, config, rows, args.cores, ("--forcerun", "score_donors"))
            stages = {**json.loads(timing_file.read_text()), "rescore (wall)": rescored["workflow (wall)"]}
            timing_file.write_text(json.dumps(stages, indent=1))
            (folder / "lots.tsv").unlink(missing_ok=True)
        if not timing_file.is_file():
            timing_file.parent.mkdir(parents=True, exist_ok=True)
            timing_file.write_text(json.dumps(run_cohort(folder, config, rows, args.cores), indent=1))
        timing[name] = json.loads(timing_file.read_text())
        collected = folder / "lots.tsv"
        if not collected.is_file():
            start = time.perf_counter()
            table = (collect if arm == "simulated" else collect_real)(folder, name, args.bootstrap)
            table.to_csv(collected, sep="\t", index=False)
            timing[name]["collect (estimates and bootstrap)"] = time.perf_counter() - start
            timing_file.write_text(json.dumps(timing[name], indent=1))
        lots = pd.read_csv(collected, sep="\t", keep_default_na=False, na_values=[""])
        lots = lots.assign(drift=lots["drift"].fillna(""), large=large, arm=arm)
        frames.append(lots)
        evidence.append(scorer_evidence(folder, name, lots).assign(arm=arm))
    every = pd.concat(frames, ignore_index=True)
    every.to_csv(args.out / "lots.tsv", sep="\t", index=False)
    scorers = pd.concat(evidence, ignore_index=True)
    scorers.to_csv(args.out / "scorers.tsv", sep="\t", index=False)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    print("Wall time by stage (seconds; job time summed per rule):")
    print(pd.DataFrame(timing).round(1).fillna("").to_string())
    print("Scorers by cohort: the rule's evidence (expected half-width) and the clean lots' realised one:")
    print(scorers.round(3).to_string(index=False))
    simulated = every["arm"] == "simulated"
    parts = (
        (
            "simulated, demo-sized reference",
            every[simulated & ~every["large"]],
            "",
            "5 donors of about 110 labelled cells each (the demo's recipe)",
        ),
        (
            "simulated, larger reference",
            every[simulated & every["large"]],
            "_large",
            "10 donors of about 200 labelled cells each",
        ),
        ("real cells", every[every["arm"] == "real"], "_real", real_reference(args)),
    )
    summaries = {}
    for label, part, suffix, reference in parts:
        if not part.empty:
            summaries[suffix] = summarise(part, label, suffix, args, reference)
            arm = scorers[scorers["arm"] == part["arm"].iloc[0]] if len(scorers) else scorers
            rule = scorer_rule(arm[arm["cohort"].isin(set(part["cohort"]))] if len(arm) else arm)
            print(f"{label}: the scorer rule's pick against the lots' realised intervals: {rule}")
            summaries[suffix]["meta"]["scorer_rule"] = rule
    if args.publish and "" in summaries:
        meta = summaries[""]["meta"]
        if "_large" in summaries:
            large = summaries["_large"]
            row = large["table"][large["table"]["estimator"] == meta["deployed"]]
            meta["large"] = {
                "reference": "10 donors of about 200 labelled cells each",
                "lots": large["lots"],
                "row": row.iloc[0].to_dict() if len(row) else {},
                "variance": large["meta"].get("variance", {}),
            }
        real = summaries.get("_real")
        if real is not None:
            meta["real"] = real["meta"] | {
                "separability": {k: round(v, 4) for k, v in separability(crops).items()}
            }
        publish(summaries[""]["table"], meta, real["table"] if real is not None else None)


def real_reference(args: argparse.Namespace) -> str:
    """The real arm's reference, in words."""
    if not args.real:
        return ""
    return (
        f"{REAL_DONORS} donors of whole plates of real crops ({args.positive.replace(',', ' + ')} against "
        f"{args.negative.replace(',', ' + ')}), lots of {REAL_LOT_CELLS} crops from other plates"
    )


if __name__ == "__main__":
    main()
