"""Configuration checks that run before any Snakemake job.

Snakemake's own ``validate`` reports only the first schema error and not always where it sits; a user
editing ``config.yaml`` needs the key path. This module reports every error with its path, then checks
that the files the config names exist (except those the demo simulator will make).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A configuration or sample-sheet problem, raised before any job runs."""


def load_schema(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _key_path(path: Iterator[Any] | Any) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def schema_errors(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Every schema violation as 'key.path: message', in document order."""
    validator = jsonschema.Draft202012Validator(schema)
    messages = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path]):
        where = _key_path(err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = sorted(err.schema.get("properties", {}))
            extra = sorted(set(err.instance) - set(allowed))
            for key in extra:
                full = f"{where}.{key}" if err.absolute_path else key
                messages.append(f"unknown key '{full}' (allowed here: {', '.join(allowed)})")
        else:
            messages.append(f"{where}: {err.message}")
    return messages


def input_file_keys(schema: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Key paths the schema marks with ``x-input-file: true``."""
    keys: list[tuple[str, ...]] = []
    if schema.get("x-input-file"):
        keys.append(prefix)
    for name, sub in schema.get("properties", {}).items():
        keys.extend(input_file_keys(sub, prefix + (name,)))
    return keys


def _lookup(config: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    node: Any = config
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def demo_outdir(config: Mapping[str, Any]) -> Path | None:
    """Folder the demo simulator writes into, or None when the demo is off."""
    demo = config.get("demo") or {}
    if not demo.get("enabled", False):
        return None
    return Path(demo.get("outdir", "results/demo"))


def is_made_by_demo(path: str | Path, config: Mapping[str, Any]) -> bool:
    outdir = demo_outdir(config)
    if outdir is None:
        return False
    return Path(path) == outdir or outdir in Path(path).parents


def check_config(
    config: Mapping[str, Any], schema: Mapping[str, Any], source: str = "config", files: bool = True
) -> None:
    """Raise ConfigError naming every bad key and (with ``files``) every missing input file."""
    errors = schema_errors(config, schema)
    if errors:
        raise ConfigError(f"{source}: invalid configuration:\n  - " + "\n  - ".join(errors))
    if files:
        check_input_files(config, schema, source)


def _set_defaults(
    validator: Any, properties: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    if isinstance(instance, dict):
        for name, sub in properties.items():
            if "default" in sub:
                instance.setdefault(name, copy.deepcopy(sub["default"]))
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](
        validator, properties, instance, schema
    )


# jsonschema's documented way to fill defaults while validating (its FAQ); nested sections whose own
# default is {} are filled in turn, as Snakemake's validate(set_default=True) does.
_FILLING = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": _set_defaults})


def with_defaults(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a valid ``config`` with every default the schema declares filled in."""
    filled = copy.deepcopy(dict(config))
    _FILLING(schema).validate(filled)
    return filled


def check_input_files(config: Mapping[str, Any], schema: Mapping[str, Any], source: str = "config") -> None:
    """Raise ConfigError listing files the config names (defaults included once filled) that are missing."""
    missing = []
    for keys in input_file_keys(schema):
        value = _lookup(config, keys)
        if value is None or value == "" or is_made_by_demo(value, config):
            continue
        if not Path(value).is_file():
            missing.append(f"{'.'.join(keys)}: file not found: {value}")
    if missing:
        raise ConfigError(
            f"{source}: files named in the configuration are missing:\n  - " + "\n  - ".join(missing)
        )


BUNDLED_KEYS = (("rnaseq", "gene_sets", "bp"), ("rnaseq", "gene_sets", "cc"), ("rnaseq", "markers"))


def resolve_bundled(
    config: dict[str, Any], basedir: str | Path, keys: tuple[tuple[str, ...], ...] = BUNDLED_KEYS
) -> None:
    """Point relative paths to bundled resources at the workflow's copy when the working directory has none.

    Lets a user run the workflow from their own project folder (``snakemake -s .../Snakefile -d project``)
    and still get the shipped GO gene sets and marker list by default.
    """
    for keys_path in keys:
        node = config
        for key in keys_path[:-1]:
            node = node.get(key) or {}
        value = node.get(keys_path[-1]) if isinstance(node, dict) else None
        if not value or Path(value).is_absolute() or Path(value).exists():
            continue
        candidate = Path(basedir) / value
        if candidate.exists():
            node[keys_path[-1]] = str(candidate)
