"""Backbone names checked against timm's registry before any job, remembered per timm version.

Importing timm (and torch) costs ~3 s, paid on every dry run and by a cluster's head job at each start;
a name timm accepted once stays accepted for the same timm version, so the answer is kept in a small
file and timm is imported only when a name is new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

from morphopotency.io.atomic import atomic_path


def check_backbones(names: Iterable[str], cache_dir: str | Path | None = None) -> None:
    """Raise ValueError naming a backbone timm does not know (with similar names)."""
    names = sorted(set(names))
    cache = Path(cache_dir) / f"timm-{version('timm')}-backbones.json" if cache_dir else None
    known = set(json.loads(cache.read_text())) if cache and cache.is_file() else set()
    new = [n for n in names if n not in known]
    if not new:
        return
    from morphopotency.cnn.model import check_backbone

    for name in new:
        check_backbone(name)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            tmp.write_text(json.dumps(sorted(known | set(new))))
