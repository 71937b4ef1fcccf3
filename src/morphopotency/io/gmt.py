"""Gene-set files in GMT format (name, description or id, member genes), optionally gzipped."""

from __future__ import annotations

import gzip
from pathlib import Path


class GeneSetError(ValueError):
    """A GMT file that cannot be used, with the file and line named."""


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """term name -> member genes. Errors name the file and line; an empty file is an error."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    sets: dict[str, list[str]] = {}
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                line = line.rstrip("\n\r")
                if not line.strip():
                    continue
                fields = line.split("\t")
                if len(fields) < 3 or not fields[0]:
                    raise GeneSetError(
                        f"{path}: line {lineno}: expected 'name<TAB>description<TAB>gene...', got "
                        f"{len(fields)} field(s)"
                    )
                # Enrichr's text libraries may weight members as "GENE,1.0": keep the symbol.
                genes = [g.split(",")[0].strip() for g in fields[2:] if g.strip()]
                if not genes:
                    raise GeneSetError(f"{path}: line {lineno}: gene set '{fields[0]}' has no genes")
                sets[fields[0]] = genes
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise GeneSetError(f"{path}: cannot read gene sets: {exc}") from exc
    if not sets:
        raise GeneSetError(f"{path}: no gene sets found")
    return sets


def term_id(name: str) -> str:
    """'cell-substrate adhesion (GO:0031589)' -> 'GO:0031589'; names without an id are returned as is."""
    if name.endswith(")") and "(GO:" in name:
        return name[name.rindex("(GO:") + 1 : -1]
    return name
