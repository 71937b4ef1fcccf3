"""Shared fixtures: the repository, the schemas, the reference data beside the clone."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest
import yaml

from morphopotency.cnn.tensors import reproducible_mkl

REPO = Path(__file__).resolve().parents[1]
# The MKL code path every CNN job takes (cnn.tensors.cpu_threads), set before this process's first MKL
# computation, so a test that predicts in-process compares like with like against a job's output.
reproducible_mkl()
SHARED_DATA = REPO.parent / "shared" / "data"
GO_BP = REPO / "resources" / "go" / "GO_BP_orgHs.eg.db_3.16.0.gmt.gz"

# Reference data beside the clone, as CI lays it out; a user's clone has none, and these tests then skip.
needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"reference data {SHARED_DATA} is absent (present beside the clone in CI)",
)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def config_schema() -> dict:
    return yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


@pytest.fixture(scope="session")
def samples_schema() -> dict:
    return yaml.safe_load((REPO / "workflow/schemas/samples.schema.yaml").read_text())


@pytest.fixture(scope="session")
def default_config() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


@pytest.fixture()
def server(tmp_path):
    """A static file server on 127.0.0.1 over ``tmp_path/www``: (root folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The tiny workflow run once locally; test_workflow checks it, test_slurm compares a cluster run
    to it.
    """
    from tests.workflow_helpers import snakemake, tiny_config, write_project

    root = write_project(tmp_path_factory.mktemp("tiny"), tiny_config())
    result = snakemake(root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory):
    """The tiny demo with every stage on, the CNN, its leave-one-donor-out validation, its model bundle
    and the scoring of a new donor (N1, sample sheet role score) included, run once: the reruns tests
    compare with it, the scoring tests score with its bundle."""
    from tests.workflow_helpers import cnn_config, snakemake, write_cnn_project

    root = write_cnn_project(tmp_path_factory.mktemp("clean"), cnn_config())
    result = snakemake(root)
    assert result.returncode == 0, result.stderr[-3000:]
    return root
