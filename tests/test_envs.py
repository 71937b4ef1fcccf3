"""The per-rule conda environments pin what constraints.txt pins (the versions tested here), inside
pyproject.toml's ranges; every rule names one of them, and it holds every package its script imports."""

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from tests.conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
UNPINNED = {"python", "pip"}  # python's minor is pinned separately; pip is the installer


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.split(";")[0].split("+")[0].strip()
    return pins


def _ranges() -> dict[str, Requirement]:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    return {_name(Requirement(d).name): Requirement(d) for d in deps}


def _env_pins(path) -> list[tuple[str, str, str]]:
    """(name, version, kind) for every pinned dependency: conda `name=1.2` or pip `name==1.2.3`."""
    spec = yaml.safe_load(path.read_text())
    pins = []
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for pip_dep in dep.get("pip", []):
                name, _, version = pip_dep.partition("==")
                pins.append((_name(name), version, "pip"))
        else:
            name, _, version = dep.partition("=")
            pins.append((_name(name), version, "conda"))
    # A package the env's post-deploy script installs without its declared dependencies (Cellpose).
    deploy = path.with_name(path.name.replace(".yaml", ".post-deploy.sh"))
    if deploy.is_file():
        found = re.findall(r"pip install --no-deps[^\n]*?\s([\w.-]+)==([\w.]+)", deploy.read_text())
        pins += [(_name(name), version, "pip") for name, version in found]
    return pins


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_agree_with_constraints_and_ranges(env):
    constraints, ranges = _constraints(), _ranges()
    spec = yaml.safe_load(env.read_text())
    assert "nodefaults" in spec["channels"] and spec["channels"][0] == "conda-forge"
    for name, version, kind in _env_pins(env):
        if name in UNPINNED:
            assert name != "python" or version == "3.11", f"{env.name}: python={version}"
            continue
        assert version, f"{env.name}: {name} has no version pin"
        tested = constraints.get(name)
        assert tested, f"{env.name}: {name} is not in constraints.txt"
        # conda `=1.2` means any 1.2.x: the tested version must be one of them; pip pins are exact.
        assert (
            (tested == version) if kind == "pip" else (tested == version or tested.startswith(version + "."))
        ), f"{env.name}: {name} {version} vs tested {tested}"
        if name in ranges:
            assert ranges[name].specifier.contains(Version(tested), prereleases=True), (
                f"{name} {tested} outside pyproject.toml {ranges[name].specifier}"
            )


def test_every_rule_names_an_existing_env():
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        text = rules.read_text()
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', text):
            assert (rules.parent / env).resolve().is_file(), f"{rules.name}: conda env {env} does not exist"
        rule_count = len(re.findall(r"^\s*rule (?!all\b)\w+:", text, flags=re.M))
        assert len(re.findall(r"^\s*conda:", text, flags=re.M)) == rule_count, (
            f"{rules.name}: a rule without conda:"
        )


def _imports(path) -> set[str]:
    """Every module an import statement names (function-level imports too: a rule may reach them)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return names


def _library_file(module: str):
    base = REPO / "src" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def third_party_imports(script) -> set[str]:
    """Top-level third-party modules a script imports, followed through the morphopotency library."""
    todo, seen, found = [script], set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "morphopotency":
                parts = name.split(".")
                todo += [f for i in range(1, len(parts) + 1) if (f := _library_file(".".join(parts[:i])))]
            elif top not in sys.stdlib_module_names:
                found.add(top)
    return found


def rule_envs_and_scripts() -> list[tuple[str, Path, Path]]:
    """(rule, env file, script) for every rule of workflow/rules."""
    found = []
    for rules in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        pattern = r'rule (\w+):.*?conda:\s*"([^"]+)".*?script:\s*"([^"]+)"'
        for rule, env, script in re.findall(pattern, rules.read_text(), flags=re.S):
            found.append((rule, (rules.parent / env).resolve(), (rules.parent / script).resolve()))
    return found


def test_the_analysis_sees_every_rule_and_follows_the_library():
    rules = {rule for rule, _, _ in rule_envs_and_scripts()}
    assert {"rnaseq_deseq2", "imaging_selective_search_crops", "cnn_fold", "report_html"} <= rules
    # cnn_fold's script imports no torch model code itself: timm comes through morphopotency.cnn.train.
    script = REPO / "workflow/scripts/cnn_fold.py"
    assert "timm" not in {n.split(".")[0] for n in _imports(script)}
    assert "timm" in third_party_imports(script)


@pytest.mark.parametrize("rule, env, script", rule_envs_and_scripts(), ids=lambda v: getattr(v, "name", v))
def test_each_rule_env_holds_every_package_its_script_imports(rule, env, script):
    """A package missing from an env fails only on a cluster, at run time, after hours: caught here."""
    distributions = packages_distributions()
    declared = {name for name, _, _ in _env_pins(env)}
    needed = {_name(d) for top in third_party_imports(script) for d in distributions.get(top, [top])}
    missing = sorted(needed - declared)
    assert not missing, f"rule {rule}: {env.name} lacks {', '.join(missing)} (imported by {script.name})"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_each_env_installs_the_library_from_the_workflow_source(env):
    deploy = env.with_name(env.stem + ".post-deploy.sh")
    assert deploy.is_file(), f"{deploy.name} missing: Snakemake runs it after creating {env.name}"
    assert 'pip install --no-deps --no-cache-dir "${MORPHOPOTENCY_SOURCE' in deploy.read_text()


def test_no_pythonpath_is_set_for_jobs():
    """Jobs import the installed library (venv or conda env), not a path exported while the DAG is built."""
    for smk in [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]:
        assert "PYTHONPATH" not in smk.read_text(), smk.name
