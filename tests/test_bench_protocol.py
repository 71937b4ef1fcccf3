"""bench/paper_protocol.py: the protocol it projects is the one config/paper.yaml runs, counted by hand,
and the benchmark runs end to end (a tiny backbone at a tiny size, on the CPU)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "bench"))
from paper_protocol import layered, protocol_cnn, trainings  # noqa: E402


def test_a_configfile_is_laid_over_the_config_key_by_key():
    base = {"cnn": {"folds": 3, "lr_search": {"trials": 3, "repeats": 1}}, "keep": 1}
    over = {"cnn": {"lr_search": {"trials": 10}, "backbones": ["a"]}}
    assert layered(base, over) == {
        "cnn": {"folds": 3, "lr_search": {"trials": 10, "repeats": 1}, "backbones": ["a"]},
        "keep": 1,
    }
    assert base["cnn"]["lr_search"]["trials"] == 3  # the base is left as it was


def test_the_paper_protocol_is_76_trainings_of_at_most_50_epochs():
    """5 folds x 4 backbones; on DenseNet121 10 x 5 learning-rate trials, the final model and one model per
    each of the 5 donors (cnn.lodo's default)."""
    cnn = protocol_cnn([REPO / "config/config.yaml", REPO / "config/paper.yaml"])
    assert cnn["backbones"] == ["densenet121", "vgg19", "inception_v3", "legacy_xception"]
    assert (cnn["epochs"], cnn["patience"], cnn["lr_search"]["epochs"], cnn["lodo"]) == (50, 10, None, True)
    counts = trainings(cnn, "densenet121", donors=5)
    assert counts["densenet121"] == {"folds": 5, "lr trials": 50, "final": 1, "leave-one-donor-out": 5}
    assert all(counts[b] == {"folds": 5} for b in ("vgg19", "inception_v3", "legacy_xception"))
    assert sum(n for roles in counts.values() for n in roles.values()) == 76
    assert "leave-one-donor-out" not in trainings({**cnn, "lodo": False}, "vgg19", 5)["vgg19"]


def test_the_benchmark_measures_and_projects_on_the_cpu():
    run = subprocess.run(
        [sys.executable, "bench/paper_protocol.py", "--backbones", "resnet10t", "--image-size", "32"]
        + ["--cells", "60", "--epochs", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "60 cells (42 train / 6 val / 12 test)" in run.stdout
    assert "resnet10t           32" in run.stdout and "total:" in run.stdout
    assert "resnet10t        lr trials              50 x" in run.stdout
