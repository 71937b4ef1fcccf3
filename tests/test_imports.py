"""One direction of imports: the CNN stage never imports scoring, and the estimators and feature names
both use sit below both (a cycle would make a stage's own environment pull in the other's)."""

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "src" / "morphopotency"


def imported(path: Path) -> set[str]:
    """Every morphopotency module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("morphopotency")}


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("cnn", "morphopotency.score"),
        ("imaging", "morphopotency.score"),
        ("prevalence.py", "morphopotency."),
        ("features.py", "morphopotency."),
    ],
)
def test_lower_modules_do_not_import_higher_ones(package, forbidden):
    files = sorted((PACKAGE / package).rglob("*.py")) if (PACKAGE / package).is_dir() else [PACKAGE / package]
    offending = {
        f"{f.relative_to(PACKAGE)}: {name}"
        for f in files
        for name in imported(f)
        if name.startswith(forbidden)
    }
    assert not offending, sorted(offending)
