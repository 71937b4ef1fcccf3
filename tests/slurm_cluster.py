"""A real single-node Slurm cluster on 127.0.0.1 for one test module (the recipe known to work here).

Installs Debian's slurm-wlm and munge when missing, writes /etc/slurm/slurm.conf (the Snakemake jobstep
drops SLURM_CONF, so the default path is the only one that works) unless a real one is there, starts
munged, slurmctld and slurmd in their own sessions, and stops exactly those processes by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

MARKER = "# written by morphopotency tests/slurm_cluster.py"
CONF = Path("/etc/slurm/slurm.conf")
GRES = Path("/etc/slurm/gres.conf")


class Unavailable(RuntimeError):
    """Why no cluster can be started here (the test skips with this reason)."""


def _install() -> None:
    if shutil.which("slurmctld") and shutil.which("munged"):
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "slurm-wlm", "munge"],
    ):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode:
            raise Unavailable(f"{' '.join(cmd)} failed: {done.stderr[-500:]}")


def _config(state: Path) -> str:
    host = socket.gethostname().split(".")[0]
    memory_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    return "\n".join(
        [
            MARKER,
            "ClusterName=testcluster",
            f"SlurmctldHost={host}(localhost)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            "MpiDefault=none",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "DefMemPerCPU=1000",
            "SchedulerType=sched/backfill",
            "ReturnToService=2",
            f"StateSaveLocation={state}/ctld",
            f"SlurmdSpoolDir={state}/d",
            f"SlurmctldPidFile={state}/slurmctld.pid",
            f"SlurmdPidFile={state}/slurmd.pid",
            f"SlurmctldLogFile={state}/slurmctld.log",
            f"SlurmdLogFile={state}/slurmd.log",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MinJobAge=600",
            "GresTypes=gpu",
            f"NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory_mb} "
            "Gres=gpu:fake:1 State=UNKNOWN",
            f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP",
            "",
        ]
    ), f"NodeName={host} Name=gpu Type=fake File=/dev/null\n"


def _wait_idle(timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
        if state.returncode == 0 and state.stdout.strip() in ("idle", "mix"):
            return
        time.sleep(1)
    raise RuntimeError(
        f"the Slurm node did not become idle in {timeout:.0f} s (sinfo: "
        f"{state.stdout.strip() or state.stderr.strip()})"
    )


@contextmanager
def local_cluster(state: Path):
    if os.geteuid() != 0:
        raise Unavailable("starting Slurm daemons needs root (CI runs as root)")
    if CONF.exists() and MARKER not in CONF.read_text():
        raise Unavailable(f"{CONF} belongs to a real Slurm installation; not overwriting it")
    _install()
    for sub in ("ctld", "d"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    conf, gres = _config(state)
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(conf)
    GRES.write_text(gres)
    Path("/run/munge").mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    if not Path("/etc/munge/munge.key").exists():
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/mungekey", "--create"], check=True)
    started = []
    try:
        for cmd in (
            ["runuser", "-u", "munge", "--", "/usr/sbin/munged", "--foreground", "--force"],
            ["slurmctld", "-D", "-i"],
            ["slurmd", "-D"],
        ):
            log = open(state / f"{Path(cmd[0]).name}-{len(started)}.out", "w")
            started.append(
                subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )
            time.sleep(1)
        _wait_idle()
        yield
    finally:
        for proc in reversed(started):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        CONF.unlink(missing_ok=True)
        GRES.unlink(missing_ok=True)
