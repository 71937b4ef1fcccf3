import gzip
import signal
import subprocess
import sys

import pytest

from morphopotency.io.atomic import atomic_path
from morphopotency.io.gmt import GeneSetError, read_gmt, term_id
from tests.conftest import GO_BP, SHARED_DATA, needs_shared


def test_atomic_path_renames_only_on_success(tmp_path):
    target = tmp_path / "out" / "table.tsv.gz"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    with atomic_path(target) as tmp:
        assert tmp.name.endswith(".tsv.gz")
        tmp.write_text("whole")
    assert target.read_text() == "whole"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_a_killed_writer_leaves_no_target_and_its_temporary_is_cleared_by_the_next_write(tmp_path):
    """SIGKILL gives the writer no chance to clean up: the target must still not exist, and the stale
    temporary goes at the next write of that target only (another target's temporary is kept)."""
    target = tmp_path / "table.tsv"
    code = (
        "import os, signal, sys\n"
        "from morphopotency.io.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_text('half a table')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run([sys.executable, "-c", code, str(target)])
    assert killed.returncode == -signal.SIGKILL
    assert not target.exists()
    stale = [p.name for p in tmp_path.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(".table.tsv.") and ".part" in stale[0]
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "other.tsv")])
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left[0].startswith(".other.tsv.") and left[1:] == ["table.tsv"]


@needs_shared
def test_bundled_go_sets_are_the_shared_reference():
    shipped = read_gmt(GO_BP)
    assert len(shipped) == 15975
    assert shipped == read_gmt(SHARED_DATA / "go" / GO_BP.name)
    name = next(n for n in shipped if term_id(n) == "GO:1904237")
    assert sorted(shipped[name]) == ["FN1", "STK4"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no gene sets found"),
        ("only-a-name\n", "line 1: expected"),
        ("ok\tdesc\tA\tB\nempty\tdesc\t\t\n", "line 2: gene set 'empty' has no genes"),
    ],
)
def test_malformed_gmt_is_named(tmp_path, content, message):
    path = tmp_path / "sets.gmt"
    path.write_text(content)
    with pytest.raises(GeneSetError, match=message) as err:
        read_gmt(path)
    assert str(path) in str(err.value)


def test_truncated_gzip_gmt(tmp_path):
    data = gzip.compress(b"a\tb\tFN1\n" * 1000)
    path = tmp_path / "sets.gmt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(GeneSetError, match="cannot read gene sets"):
        read_gmt(path)
