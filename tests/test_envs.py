"""The per-rule conda environments pin what constraints.txt pins (the versions tested here), inside
pyproject.toml's ranges, and every rule names one of them."""

import re

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
        assert (tested == version) if kind == "pip" else (tested == version or tested.startswith(version + ".")), f"{env.name}: {name} {version} vs tested {tested}"
        if name in ranges:
            assert ranges[name].specifier.contains(Version(tested), prereleases=True), f"{name} {tested} outside pyproject.toml {ranges[name].specifier}"


def test_every_rule_names_an_existing_env():
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        text = rules.read_text()
        for env in re.findall(r'conda:\s*\n\s*"([^"]+)"', text):
            assert (rules.parent / env).resolve().is_file(), f"{rules.name}: conda env {env} does not exist"
        rule_count = len(re.findall(r"^\s*rule (?!all\b)\w+:", text, flags=re.M))
        assert len(re.findall(r"^\s*conda:", text, flags=re.M)) == rule_count, f"{rules.name}: a rule without conda:"
