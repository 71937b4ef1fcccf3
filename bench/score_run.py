"""Wall time of a scoring-only run (issue target: <= 2 minutes for 5 donors x 4 images on 2 cores), split
by stage, with the time to read the same images once (tifffile) as the baseline measured in the same run.

Needs a finished training run for its bundle and images: ``make demo`` (results/model/, results/demo/).
The scoring run happens in a temporary folder, as a lab would run it (README, "Scoring new lots").

Run: .venv/bin/python bench/score_run.py [--bundle results/model] [--images results/demo/images]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import tifffile
import yaml

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")


def stage_seconds(log: str) -> dict[str, float]:
    """rule -> summed job seconds, from the timestamps Snakemake prints before each job's start and end."""
    started, rule_of, totals = {}, {}, defaultdict(float)
    stamp, rule = None, None
    for line in log.splitlines():
        if match := STAMP.match(line.strip()):
            stamp = datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
        elif m := re.match(r"^(?:local)?rule (\w+):$", line.strip()):
            rule = m.group(1)
        elif m := re.match(r"^\s*jobid: (\d+)$", line):
            started[m.group(1)], rule_of[m.group(1)] = stamp, rule
        elif (m := re.match(r"^Finished jobid: (\d+)", line.strip())) and m.group(1) in started:
            totals[rule_of[m.group(1)]] += (stamp - started[m.group(1)]).total_seconds()
    return dict(totals)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, default=REPO / "results/model")
    parser.add_argument("--images", type=Path, default=REPO / "results/demo/images")
    parser.add_argument("--donors", type=int, default=5, help="donors scored (the target's 5)")
    args = parser.parse_args()
    if not (args.bundle / "MANIFEST.sha256").is_file() or not args.images.is_dir():
        sys.exit(f"needs a bundle ({args.bundle}) and images ({args.images}): run `make demo` first")
    donors = sorted(p.name for p in args.images.iterdir() if p.is_dir())[: args.donors]
    files = sorted(f for d in donors for f in (args.images / d).glob("*.tif"))
    start = time.perf_counter()
    for path in files:
        tifffile.imread(path)
    baseline = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config").mkdir()
        rows = ["sample\tdonor\tcondition\trnaseq_column\timages"]
        rows += [f"{d}\t{d}\tstem\t\t{args.images.resolve() / d}" for d in donors]
        (folder / "config/samples.tsv").write_text("\n".join(rows) + "\n")
        config = {
            "samples": "config/samples.tsv",
            "score": {"bundle": str(args.bundle.resolve())},
            "imaging": {"channels": {"shape": "CD105", "label": None, "nuclei": "DAPI"}},
        }
        (folder / "config/config.yaml").write_text(yaml.safe_dump(config))
        snakefile = str(REPO / "Snakefile")
        cmd = [sys.executable, "-m", "snakemake", "-s", snakefile, "-d", str(folder), "--cores", "2"]
        start = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(run.stderr[-3000:])
    stages = stage_seconds(run.stdout + run.stderr)
    print(f"scoring run: {len(donors)} donors x {len(files) // max(len(donors), 1)} images, 2 cores")
    print(f"baseline: read the {len(files)} images once    {baseline:8.2f} s")
    print(
        f"whole run (Snakemake start to end)      {wall:8.2f} s   x {wall / baseline:7.1f}   target <= 120 s"
    )
    print("job seconds by stage (summed over jobs; 2 run at a time):")
    for rule, seconds in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {rule:36} {seconds:8.0f} s")


if __name__ == "__main__":
    main()
