"""Dry-run latency: how long a user, or a cluster's head job, waits before the first job can start.

Three timings, each the median of ``--repeats`` runs of ``snakemake -n`` (wall and CPU seconds), with
their ratio to the first, measured in the same run:
- bare Snakemake: a one-rule Snakefile, Snakemake's own start-up (the floor no workflow goes under);
- finished demo: a no-op dry run on a finished ``make demo`` folder (``--finished DIR``; without it the
  demo is run first into a temporary folder, about 8 minutes on 2 cores); issue 15's target is <= 5 s;
- a cohort of ``--donors`` x ``--images`` (default 100 x 20, CNN on): the whole DAG planned, every job
  pending (empty image files stand in, a dry run reads none); the target is <= 10 s.

Run: .venv/bin/python bench/dry_run.py [--finished DIR] [--donors 100] [--images 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(folder: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(folder), "--cores", "2", *args]


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one command and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{run.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def dry_run(folder: Path, repeats: int, snakefile: Path = REPO / "Snakefile") -> tuple[float, float, str]:
    cmd = snakemake(folder, "-n", snakefile=snakefile)
    times = [timed(cmd, folder) for _ in range(repeats)]
    out = subprocess.run(cmd, cwd=folder, capture_output=True, text=True).stdout
    jobs = next((line.split()[-1] for line in out.splitlines() if line.startswith("total")), "0")
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times), jobs


def bare(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Snakefile").write_text(
        'rule all:\n    output:\n        "done.txt"\n    shell:\n        "touch {output}"\n'
    )
    (folder / "done.txt").write_text("")
    return folder / "Snakefile"


def finished_demo(folder: Path) -> Path:
    """The shipped demo, run to the end in ``folder`` (the user's own project folder recipe)."""
    (folder / "config").mkdir(parents=True, exist_ok=True)
    for name in ("config.yaml", "samples.tsv"):
        (folder / "config" / name).write_text((REPO / "config" / name).read_text())
    start = time.perf_counter()
    cmd = snakemake(folder)
    run = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"the demo failed:\n{run.stderr[-3000:]}")
    print(f"(demo run to the end in {time.perf_counter() - start:.0f} s)")
    return folder


def cohort(folder: Path, donors: int, images: int) -> Path:
    """A project of ``donors`` stem donors with ``images`` fields each and RNA-seq, the CNN on."""
    (folder / "config").mkdir(parents=True, exist_ok=True)
    ids = [f"D{i:03d}" for i in range(donors)]
    rows = ["sample\tdonor\tcondition\trnaseq_column\timages"]
    for donor in ids:
        (folder / "images" / donor).mkdir(parents=True, exist_ok=True)
        for field in range(images):
            (folder / "images" / donor / f"{donor}_f{field:02d}.ome.tif").write_bytes(b"")
        rows.append(f"{donor}\t{donor}\tstem\t{donor}\timages/{donor}")
    (folder / "config" / "samples.tsv").write_text("\n".join(rows) + "\n")
    (folder / "counts.tsv").write_text("gene_id\tsymbol\t" + "\t".join(ids) + "\n")
    (folder / "lengths.tsv").write_text("gene_id\tlength\n")
    config = {
        "samples": "config/samples.tsv",
        "rnaseq": {"table": "counts.tsv", "values": "counts", "gene_lengths": "lengths.tsv"},
        "cnn": {"backbones": ["resnet18", "densenet121"], "pretrained": "none"},
    }
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--finished", type=Path, help="a folder where the demo has run to the end")
    parser.add_argument("--donors", type=int, default=100)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        floor_wall, floor_cpu, _ = dry_run(tmp / "bare", args.repeats, bare(tmp / "bare"))
        demo = args.finished.resolve() if args.finished else finished_demo(tmp / "demo")
        demo_wall, demo_cpu, demo_jobs = dry_run(demo, args.repeats)
        big_wall, big_cpu, big_jobs = dry_run(cohort(tmp / "cohort", args.donors, args.images), args.repeats)
    print(f"{'snakemake -n':42} {'jobs':>6} {'wall s':>8} {'CPU s':>7} {'x bare':>7}  target")
    print(
        f"{'bare Snakemake (one rule, nothing to do)':42} {0:>6} {floor_wall:8.2f} {floor_cpu:7.2f} {1:7.1f}"
    )
    print(
        f"{'finished demo (no-op)':42} {demo_jobs:>6} {demo_wall:8.2f} {demo_cpu:7.2f} "
        f"{demo_wall / floor_wall:7.1f}  <= 5 s"
    )
    label = f"{args.donors} donors x {args.images} images (full DAG)"
    print(f"{label:42} {big_jobs:>6} {big_wall:8.2f} {big_cpu:7.2f} {big_wall / floor_wall:7.1f}  <= 10 s")


if __name__ == "__main__":
    main()
