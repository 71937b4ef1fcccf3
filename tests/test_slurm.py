"""The tiny workflow through a real single-node Slurm cluster with profiles/slurm: every job goes through
sbatch (job ids in Snakemake's log and in squeue's history) and the results equal the local run's."""

import re
import subprocess

import pytest

from tests.conftest import REPO
from tests.slurm_cluster import Unavailable, local_cluster
from tests.workflow_helpers import snakemake, tiny_config, write_project

pytestmark = pytest.mark.workflow
# No accounting database here: the plugin must ask squeue, not sacct (see profiles/slurm/config.yaml).
NO_ACCOUNTING = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--latency-wait",
    "10",
)
# A one-node test cluster answers at once: poll every 2 s, not 10 (measured: 187 s -> 158 s for this test).
FAST_POLLING = ("--seconds-between-status-checks", "2")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        with local_cluster(tmp_path_factory.mktemp("slurm-state")):
            yield
    except Unavailable as why:
        pytest.skip(f"no local Slurm cluster: {why}")


def _tables(root):
    # Every table the run wrote; logs and provenance hold paths and times, the report a date.
    return {
        p.relative_to(root): p.read_bytes()
        for p in sorted((root / "results").rglob("*.tsv"))
        if "logs" not in p.parts and "provenance" not in p.parts
    }


def _job_stats(log: str) -> dict[str, int]:
    """rule -> count from Snakemake's "Job stats" table (header and rule lines, then total)."""
    stats = {}
    for line in log.split("Job stats:", 1)[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        stats[parts[0]] = int(parts[1])
    return stats


def test_tiny_workflow_through_slurm_equals_local_run(cluster, demo_run, tmp_path):
    root = write_project(tmp_path, tiny_config())
    result = snakemake(
        root,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        *NO_ACCOUNTING,
        *FAST_POLLING,
        "--jobs",
        "8",
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    submitted = set(re.findall(r"SLURM jobid (\d+)", log))
    stats = _job_stats(log)
    # One sbatch per job, except `all` (local) and the segmentation jobs, which go in groups of 50.
    segment = stats.get("imaging_segment", 0)
    expected = stats["total"] - stats["all"] - segment + -(-segment // 50)
    assert len(submitted) == expected, (len(submitted), stats)
    history = subprocess.run(
        ["squeue", "-h", "-t", "all", "-o", "%i %T"], capture_output=True, text=True, check=True
    ).stdout
    states = dict(line.split() for line in history.splitlines())
    assert submitted <= set(states) and {states[j] for j in submitted} == {"COMPLETED"}, history
    local, remote = _tables(demo_run), _tables(root)
    assert sorted(remote) == sorted(local) and len(local) > 10
    assert [p for p in local if local[p] != remote[p]] == []
