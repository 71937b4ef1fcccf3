"""A user's clone has no ../shared beside it: the tests that read that reference data skip, saying why."""

from __future__ import annotations

import shutil
import subprocess
import sys

from tests.conftest import REPO

READERS = [
    "tests/test_io.py::test_bundled_go_sets_are_the_shared_reference",
    "tests/test_enrichment.py::test_pvalues_equal_scipy_hypergeom_and_bh",
    "tests/test_rnaseq_ingest.py::test_real_gencode_lengths_match_versioned_and_unversioned_ids",
    "tests/test_segmentation.py::test_seg_object_f1_and_splits_on_real_msc_frames",
    "tests/test_shapes.py::test_shape_modes_are_deterministic_and_resample_stably_on_real_msc_outlines",
]


def test_tests_reading_shared_data_skip_in_a_clone_without_it(tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(REPO / "tests", clone / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "resources", clone / "resources")
    shutil.copy(REPO / "pyproject.toml", clone)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", *READERS]
    run = subprocess.run(cmd, cwd=clone, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "5 skipped" in out and "reference data" in out and "is absent" in out, out[-3000:]
