"""Source-level safety rules: no code path unpickles data, loads YAML unsafely, or hands a shell a string
built from sample ids or paths. A grep, so a new file that breaks a rule fails here before review."""

from __future__ import annotations

import re

import pytest

from tests.conftest import REPO

SOURCES = sorted(
    [*REPO.glob("src/**/*.py"), *REPO.glob("workflow/**/*.py"), *REPO.glob("workflow/**/*.smk"), REPO / "Snakefile", *REPO.glob("bench/*.py")]
)

RULES = {
    "pickle module": re.compile(r"^\s*(import|from)\s+(c?pickle|dill|joblib\.numpy_pickle)\b|\bpickle\.loads?\("),
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
    bad = [f"{path.relative_to(REPO)}:{n}: {name}: {line}" for path in SOURCES for name, n, line in violations(path.read_text())]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("line", [
    "import pickle",
    "from pickle import loads",
    "state = torch.load(path, map_location='cpu')",
    "x = np.load(path)",
    "frame = pd.read_pickle(path)",
    "cfg = yaml.load(fh)",
    "subprocess.run(f'cp {sample} out', shell=True)",
    "os.system('rm ' + path)",
    "    shell:",
])
def test_the_grep_catches_each_unsafe_form(line):
    assert violations(line), line


@pytest.mark.parametrize("line", [
    "saved = torch.load(checkpoint, map_location=device, weights_only=True)",
    "array = np.load(crop_file, allow_pickle=False)",
    "config = yaml.safe_load(text)",
    "subprocess.run(['git', '-C', str(directory), *args], check=True)",
])
def test_the_grep_allows_the_safe_forms(line):
    assert not violations(line), line
