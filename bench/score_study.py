"""The replicated validation study of a lot's score: R independent training cohorts (the demo's recipe and
size, simulator seed and reference fractions varied), each scoring M unseen lots at fractions spread over
0.05-0.95 and two lots with a planted drift, all through the deployed workflow (a mixed run: the
reference donors train the bundle that scores the lots, exactly as a lab's run does).

Per estimator: mean signed error with its 95 % interval (t on the cohorts' means), mean absolute
and maximum error, the slope of signed error against the true fraction, coverage of the 95 % intervals
overall and by band of true fraction, mean half-width; coverage at nominal 50-95 %; and the share of
clean lots the drift and QC checks hold and of drifted lots they catch. A lot's truth is the share of its
segmented cells SSEA3 staining would have labelled (its fields drawn again with SSEA3), weighted by the
cells' edge correction as the deployed estimate is; lots.tsv keeps the unweighted share and the planted
one beside it.

Each cohort is a workflow run in a folder of its own under --out, so a stopped study resumes where it
stopped (Snakemake keeps finished jobs; a cohort's collected lots are kept). It prints the wall time of
every stage of every cohort and the summary tables, and writes study.tsv, coverage.tsv, holds.tsv,
cohorts.tsv (the deployed estimator by cohort), calibration.tsv (its errors in units of each lot's
interval sd, by band), labels.tsv (the reference cells' SSEA3 labels against the classes planted, over
the whole cell and its inner half), lots.tsv and study.png under --out.

After a change to the estimator alone, --rescore redoes only the scoring step of cohorts that ran.

Run: .venv/bin/python bench/score_study.py [--cohorts 3] [--lots 10] [--large [--large-index N]]
     [--rescore] [--out results/study]
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

from morphopotency.prevalence import METHODS, PARTS  # noqa: E402
from morphopotency.report.study import study_quote  # noqa: E402
from morphopotency.score.bundle import load  # noqa: E402
from morphopotency.score.cells import LODO_PROB  # noqa: E402
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
    segmented_truth,
    shared_calibration,
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


def collect(folder: Path, cohort: str, n_boot: int) -> pd.DataFrame:
    """Every estimator's estimate and intervals of every lot from the run's own bundle and cell
    probabilities, the truth among its segmented cells, and the deployed run's verdict (held or not)."""
    import anndata as ad

    results = folder / "results"
    bundle = load(results / "model")
    reference = bundle_reference(bundle)
    crossfit = bundle.crossfit()
    settings = yaml.safe_load((folder / "config/config.yaml").read_text())
    scores = pd.read_csv(results / "score/donor_scores.tsv", sep="\t", dtype={"donor": str}).set_index(
        "donor"
    )
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
        table = lot_estimates(reference, cells["prob"].to_numpy(float), METHODS, n_boot=n_boot, seed=seed)
        if crossfit is not None:
            lot_prob = cells[[f"{LODO_PROB}{d}" for d in crossfit.donors]].to_numpy(float)
            fit, weight = lot_weighting(crossfit, cells)
            estimates = cross_estimates(fit, lot_prob, n_boot=n_boot, seed=seed, lot_weight=weight)
            table = pd.concat([table, estimates])
        row = scores.loc[lot]
        deployed = table["estimator"] == row["estimator"]
        # The deployed estimator's 95 % interval is the run's own (score.bootstrap resamples), not redrawn.
        table.loc[deployed, ["estimate", "low_0.95", "high_0.95"]] = [
            row["fraction"],
            row["ci_low"],
            row["ci_high"],
        ]
        drift = DRIFTS.get(lot, (None, None, ""))[2]
        frames.append(
            table.assign(
                cohort=cohort,
                lot=lot,
                cells=len(cells),
                matched=matched,
                planted_truth=truth,
                unweighted_truth=unweighted,
                truth=labelled if np.isfinite(labelled) else truth,
                deployed=deployed,
                drift=drift,
                held=str(row["verdict"]).startswith("hold"),
                # The deployed interval's variance by part (pacc_cross; NaN for other estimators).
                **{f"variance_{p}": row.get(f"variance_{p}", np.nan) for p in PARTS},
                flags=row["flags"] if isinstance(row["flags"], str) else "",
            )
        )
    return pd.concat(frames, ignore_index=True)


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
) -> dict:
    """What the table was measured on, and the rest of what the documents quote (holds, variance parts)."""
    from morphopotency.provenance import git_commit

    return {
        "cohorts": int(clean["cohort"].nunique()),
        "lots": int(len(clean[["cohort", "lot"]].drop_duplicates())),
        "reference": "5 donors of about 110 labelled cells each (the demo's recipe)",
        "commit": git_commit(REPO),
        "command": f"bench/score_study.py --cohorts {args.cohorts} --lots {args.lots} --seed {args.seed}"
        + (" --large" if args.large else "")
        + (f" --large-index {args.large_index}" if args.large and args.large_index is not None else "")
        + (" --rescore" if args.rescore else ""),
        "deployed": deployed,
        "holds": holds.to_dict("records"),
        **({"variance": shares.round(4).to_dict()} if shares is not None else {}),
    }


def publish(table: pd.DataFrame, meta: dict) -> None:
    """The table the reports quote (morphopotency.report.study), and its quote in the README and the
    methods, between their study markers."""
    from morphopotency.report.study import STUDY, STUDY_META, quote_study, study_quote

    (REPO / STUDY).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(REPO / STUDY, sep="\t", index=False, float_format="%.4g")
    (REPO / STUDY_META).write_text(json.dumps(meta, indent=1) + "\n")
    published = pd.read_csv(REPO / STUDY, sep="\t")  # quote what the reports will read, rounding and all
    for document in ("README.md", "docs/METHODS.md"):
        path = REPO / document
        path.write_text(quote_study(path.read_text(), study_quote(published, meta)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cohorts", type=int, default=3, help="independent training cohorts (R)")
    parser.add_argument("--lots", type=int, default=10, help="clean lots per cohort (M), plus 2 drifted")
    parser.add_argument("--large", action="store_true", help="add one cohort of 10 donors x ~200 cells")
    parser.add_argument(
        "--large-index",
        type=int,
        default=None,
        help="the larger cohort's simulator index (default: --cohorts, the one after the demo-sized "
        "ones); give the index it ran with when adding cohorts, so it is kept",
    )
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
        help="write the demo-sized study's table to resources/validation/, where the reports quote it",
    )
    args = parser.parse_args()
    large_index = args.cohorts if args.large_index is None else args.large_index
    # Demo-sized cohorts take the simulator indices 0, 1, ... passing over the large cohort's, so adding
    # cohorts to a study that ran --large neither redraws it nor repeats its seed.
    indices = [i for i in range(args.cohorts + 1) if not (args.large and i == large_index)][: args.cohorts]
    cohorts = [(f"cohort{n + 1}", i, False) for n, i in enumerate(indices)]
    if args.large:
        cohorts.append(("large", large_index, True))
    frames, timing = [], {}
    for name, index, large in cohorts:
        folder = args.out / name
        config, rows, _ = cohort_plan(index, args.lots, large, args.seed)
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
            table = collect(folder, name, args.bootstrap)
            table.to_csv(collected, sep="\t", index=False)
            timing[name]["collect (estimates and bootstrap)"] = time.perf_counter() - start
            timing_file.write_text(json.dumps(timing[name], indent=1))
        frames.append(pd.read_csv(collected, sep="\t", keep_default_na=False, na_values=[""]))
        frames[-1]["drift"] = frames[-1]["drift"].fillna("")
        frames[-1]["large"] = large
    every = pd.concat(frames, ignore_index=True)
    every.to_csv(args.out / "lots.tsv", sep="\t", index=False)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    print("Wall time by stage (seconds; job time summed per rule):")
    print(pd.DataFrame(timing).round(1).fillna("").to_string())
    summaries = {}
    for label, part in (
        ("demo-sized reference", every[~every["large"]]),
        ("larger reference", every[every["large"]]),
    ):
        if part.empty:
            continue
        clean = part[part["drift"] == ""]
        table, curve = error_table(clean), coverage_curve(clean)
        suffix = "" if label.startswith("demo") else "_large"
        table.to_csv(args.out / f"study{suffix}.tsv", sep="\t", index=False)
        curve.to_csv(args.out / f"coverage{suffix}.tsv", sep="\t", index=False)
        deployed = sorted(set(part.loc[part["deployed"], "estimator"]))
        lots = clean[["cohort", "lot"]].drop_duplicates()
        print(f"\n{label}: {clean['cohort'].nunique()} cohorts, {len(lots)} clean lots")
        print(f"estimator the runs deployed (score.estimator auto): {', '.join(deployed)}")
        print(table.round(3).to_string(index=False))
        print(curve.pivot(index="estimator", columns="nominal", values="observed").round(3).to_string())
        holds = hold_rates(part.drop_duplicates(["cohort", "lot"]))
        holds.to_csv(args.out / f"holds{suffix}.tsv", sep="\t", index=False)
        print(holds.to_string(index=False))
        shares = variance_shares(part[part["deployed"] & (part["drift"] == "")])
        if shares is not None:
            print("share of the deployed interval's variance, mean over lots:", shares.round(3).to_dict())
            shares.to_frame("mean_share").to_csv(args.out / f"variance{suffix}.tsv", sep="\t")
        meta = study_meta(clean, holds, deployed[0] if deployed else "", shares, args)
        names = sorted(set(part["cohort"]))
        agreement = (
            pd.concat([reference_labels(args.out / n) for n in names]).groupby("region", sort=False).sum()
        )
        agreement.to_csv(args.out / f"labels{suffix}.tsv", sep="\t")
        print(f"SSEA3 labels of the reference cells against the planted classes:\n{agreement.to_string()}")
        meta["labels"] = agreement.reset_index().to_dict("records")
        if deployed:
            by_cohort = cohort_errors(clean[clean["estimator"] == deployed[0]])
            by_cohort.to_csv(args.out / f"cohorts{suffix}.tsv", sep="\t", index=False)
            print(f"{deployed[0]} by cohort:\n{by_cohort.round(3).to_string(index=False)}")
            meta["by_cohort"] = by_cohort.round(4).to_dict("records")
            shared = shared_calibration(by_cohort)
            print(
                f"cohorts' shared errors against their intervals: rms z {shared['rms_z']:.2f} over "
                f"{shared['cohorts']} cohorts, chi-square {shared['chi2']:.1f}, p = {shared['p']:.2f}"
            )
            meta["shared_calibration"] = {k: round(v, 4) for k, v in shared.items()}
            bands = band_calibration(clean[clean["estimator"] == deployed[0]])
            bands.to_csv(args.out / f"calibration{suffix}.tsv", sep="\t", index=False)
            print(f"{deployed[0]} errors in units of each lot's interval sd:\n{bands.round(2).to_string()}")
            meta["calibration"] = bands.round(4).to_dict("records")
        summaries[suffix] = (table, meta, len(lots))
        (args.out / f"study{suffix}.md").write_text(study_quote(table, meta))
        figure(part, curve, args.out / f"study{suffix}.png")
    if args.publish and "" in summaries:
        table, meta, _ = summaries[""]
        if "_large" in summaries:
            large, large_meta, n_lots = summaries["_large"]
            row = large[large["estimator"] == meta["deployed"]]
            meta["large"] = {
                "reference": "10 donors of about 200 labelled cells each",
                "lots": n_lots,
                "row": row.iloc[0].to_dict() if len(row) else {},
                "variance": large_meta.get("variance", {}),
            }
        publish(table, meta)


if __name__ == "__main__":
    main()
