"""Source-level safety rules: no code path unpickles data, loads YAML unsafely, or hands a shell a string
built from sample ids or paths. A grep, so a new file that breaks a rule fails here before review."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

SOURCES = sorted(
    [
        *REPO.glob("src/**/*.py"),
        *REPO.glob("workflow/**/*.py"),
        *REPO.glob("workflow/**/*.smk"),
        REPO / "Snakefile",
        *REPO.glob("bench/*.py"),
    ]
)

RULES = {
    "pickle module": re.compile(
        r"^\s*(import|from)\s+(c?pickle|dill|joblib\.numpy_pickle)\b|\bpickle\.loads?\("
    ),
    "torch.load without weights_only=True": re.compile(r"torch\.load\((?![^)]*weights_only=True)"),
    "np.load without allow_pickle=False": re.compile(r"np\.load\((?![^)]*allow_pickle=False)"),
    "pandas read_pickle": re.compile(r"read_pickle\("),
    "unsafe YAML": re.compile(r"yaml\.(load|unsafe_load|full_load)\((?![^)]*Loader=yaml\.SafeLoader)"),
    "shell string": re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|^\s*shell:"),
}


def violations(text: str) -> list[tuple[str, int, str]]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith(('"', "'")) else ""
        for name, pattern in RULES.items():
            if pattern.search(code):
                found.append((name, number, line.strip()))
    return found


def test_the_source_keeps_the_safety_rules():
    assert len(SOURCES) > 50  # the globs do find the code
    bad = [
        f"{path.relative_to(REPO)}:{n}: {name}: {line}"
        for path in SOURCES
        for name, n, line in violations(path.read_text())
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "line",
    [
        "import pickle",
        "from pickle import loads",
        "state = torch.load(path, map_location='cpu')",
        "x = np.load(path)",
        "frame = pd.read_pickle(path)",
        "cfg = yaml.load(fh)",
        "subprocess.run(f'cp {sample} out', shell=True)",
        "os.system('rm ' + path)",
        "    shell:",
    ],
)
def test_the_grep_catches_each_unsafe_form(line):
    assert violations(line), line


@pytest.mark.parametrize(
    "line",
    [
        "saved = torch.load(checkpoint, map_location=device, weights_only=True)",
        "array = np.load(crop_file, allow_pickle=False)",
        "config = yaml.safe_load(text)",
        "subprocess.run(['git', '-C', str(directory), *args], check=True)",
    ],
)
def test_the_grep_allows_the_safe_forms(line):
    assert not violations(line), line


# Calls that write a file, by name; `open` counts only in a writing mode. Pandas' `to_*` with no target
# return text and write nothing.
WRITERS = {
    "to_csv",
    "to_excel",
    "to_parquet",
    "to_json",
    "to_html",
    "write_h5ad",
    "savefig",
    "save",
    "savez",
    "savez_compressed",
    "write_text",
    "write_bytes",
    "imwrite",
    "dump",
    "save_file",
    "write_gmt",
}
# Library writers whose own bodies pass this check, called from a script with the final paths.
ATOMIC_INSIDE = {
    ("workflow/scripts/cnn_dataset.py", "data.save"),
    ("workflow/scripts/imaging_shape_modes.py", "model.save"),
    ("workflow/scripts/model_bundle.py", "reference_embedding(inp.cnn, inp.crops, final).save"),
}


def unguarded_writes(path: Path, source: str) -> list[str]:
    """Writing calls outside a ``with atomic_path(...)`` block: a file a killed job could leave
    half-written.
    """
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}

    def guarded(node: ast.AST) -> bool:
        while node in parents:
            node = parents[node]
            if isinstance(node, ast.With) and any(
                isinstance(item.context_expr, ast.Call)
                and ast.unparse(item.context_expr.func).endswith(("atomic_path", "atomic_folder"))
                for item in node.items
            ):
                return True
        return False

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func).rsplit(".", 1)[-1]
        modes = [
            a
            for a in node.args[1:2] + [k.value for k in node.keywords if k.arg == "mode"]
            if isinstance(a, ast.Constant)
        ]
        if name.startswith("to_"):
            writes = name in WRITERS and bool(
                node.args or {k.arg for k in node.keywords} & {"buf", "path_or_buf", "excel_writer", "path"}
            )
        elif name == "open":
            writes = any(set(str(m.value)) & {"w", "a", "x"} for m in modes)
        else:
            writes = name in WRITERS
        if writes and not guarded(node) and (str(path), ast.unparse(node.func)) not in ATOMIC_INSIDE:
            found.append(f"{path}:{node.lineno}: {ast.unparse(node)[:100]}")
    return found


def test_every_output_is_written_through_atomic_path():
    """Item 2 of the reliability issue, at the source: tests/test_reruns.py kills jobs mid-write for a few
    writers; this makes sure no writer anywhere skips the write-then-rename."""
    files = [*REPO.glob("workflow/scripts/*.py"), *REPO.glob("src/morphopotency/**/*.py")]
    bad = [line for f in sorted(files) for line in unguarded_writes(f.relative_to(REPO), f.read_text())]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "source, flagged",
    [
        ("frame.to_csv(snakemake.output[0], sep='\\t')", True),
        ("fig.savefig(path)", True),
        ("with open(path, 'w') as fh:\n    fh.write('x')", True),
        ("with atomic_path(path) as tmp:\n    frame.to_csv(tmp)", False),
        ("with atomic_path(path) as tmp, open(tmp, 'wb') as fh:\n    np.save(fh, x)", False),
        ("text = frame.to_html(index=False)", False),
        ("with open(path) as fh:\n    fh.read()", False),
    ],
)
def test_the_write_check_tells_guarded_from_unguarded(source, flagged):
    assert bool(unguarded_writes(Path("x.py"), source)) == flagged
