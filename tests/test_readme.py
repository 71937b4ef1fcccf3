"""The README as a newcomer uses it: short, no history, and every command in it runs as written: each
`make` target exists, each benchmark and flag exists, and each Snakemake command is dry-run (in a copy of
the repository, so nothing is written here) where a dry run needs nothing a longer run makes first."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
USER_DOCUMENTS = (README, REPO / "docs/METHODS.md", REPO / "config/README.md")
HISTORY = re.compile(
    r"\bused to\b|kept as (they were )?measured|\btried (here )?before\b|\bno longer\b|\bpreviously\b"
    r"|\bearlier version\b|\bbefore the (change|shift|fix|native)|\(before\b|\| before\b",
    re.IGNORECASE,
)
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
# Commands that need the output of a longer run first (a finished run, a bundle): named, not dry-run.
NEEDS_A_RUN = {
    "--report": "Snakemake's report needs a finished run",
    "scoring/config/score.yaml": "scoring needs a training run's bundle (tests/test_score.py runs it)",
}


def commands(text: str) -> list[str]:
    """Every command line of the README's bash blocks: continuations joined, comments dropped."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def test_the_readme_is_a_short_guide_without_history():
    lines = README.read_text().splitlines()
    assert len(lines) <= 350, f"README.md has {len(lines)} lines"
    for document in USER_DOCUMENTS:
        for number, line in enumerate(document.read_text().splitlines(), 1):
            assert not HISTORY.search(line), f"{document.relative_to(REPO)}:{number}: {line}"
    for heading in (
        "The two commands",
        "The demo",
        "Your own data",
        "Scoring new lots",
        "Running on a cluster",
        "Troubleshooting",
        "Development",
    ):
        assert f"## {heading}" in README.read_text()


def test_every_make_target_and_benchmark_flag_the_readme_names_exists():
    text = README.read_text()
    makefile = (REPO / "Makefile").read_text()
    cmds = commands(text)
    assert cmds, "no commands found in the README"
    for cmd in cmds:
        words = shlex.split(cmd.split("&&")[0])
        if words[0] == "make":
            target = words[1] if len(words) > 1 else "setup"
            assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), cmd
        if words[0] == ".venv/bin/python" and words[1].startswith("bench/"):
            script = (REPO / words[1]).read_text()
            for flag in (w for w in words[2:] if w.startswith("--")):
                assert f'"{flag}"' in script, f"{cmd}: {words[1]} has no {flag}"
    for make in re.findall(r"`make (\w+)", text):
        assert re.search(rf"^{make}:", makefile, flags=re.M), f"make {make}"


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The repository's tracked files in a folder of their own: the commands write nothing here."""
    dest = tmp_path_factory.mktemp("readme") / "morphopotency"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in files.splitlines():
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.mark.workflow
def test_every_snakemake_command_in_the_readme_dry_runs(checkout):
    ran, skipped = [], []
    for cmd in commands(README.read_text()):
        for part in (p.strip() for p in cmd.split("&&")):
            words = shlex.split(part)
            if words[0] in ("mkdir", "cp"):
                assert subprocess.run(words, cwd=checkout).returncode == 0, part
                continue
            if words[0] != ".venv/bin/snakemake":
                continue
            reason = next((why for key, why in NEEDS_A_RUN.items() if key in part), None)
            if reason:
                skipped.append((part, reason))
                continue
            args = words[1:] if "--lint" in words else [*words[1:], "--dry-run"]
            run = subprocess.run([SNAKEMAKE, *args], cwd=checkout, capture_output=True, text=True)
            assert run.returncode == 0, f"{part}\n{(run.stdout + run.stderr)[-3000:]}"
            ran.append(part)
    assert any("profiles/slurm" in c for c in ran) and any("-d my_project" in c for c in ran), ran
    assert any("paper.yaml" in c for c in ran) and len(skipped) == len(NEEDS_A_RUN), skipped
