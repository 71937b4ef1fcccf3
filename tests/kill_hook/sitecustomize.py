"""Test-only fault injection for tests/test_reruns.py: SIGKILL the process just before the N-th rename
of an atomic write onto a file of a given name, the moment an out-of-memory kill or a lost node could
strike. Inert unless MORPHOPOTENCY_TEST_KILL is set, to a JSON list of {"name": file name, "nth": count};
the test puts this folder on PYTHONPATH of the runs it interrupts, so Python imports it at start-up.
With "group": true the whole process group goes (Snakemake too, as when a node is lost), so nothing is
left to clean up after the job.

``morphopotency.io.atomic`` is patched as it is imported, before any module binds ``atomic_path``, so every
writer is covered; a writer that bypassed ``atomic_path`` would never be killed and its test would fail.
"""

from __future__ import annotations

import os

if os.environ.get("MORPHOPOTENCY_TEST_KILL"):
    import importlib.abc
    import importlib.machinery
    import json
    import signal
    import sys
    from contextlib import contextmanager
    from pathlib import Path

    WANTED = {w["name"]: w for w in json.loads(os.environ["MORPHOPOTENCY_TEST_KILL"])}

    def _patch(module) -> None:
        real = module.atomic_path
        seen = dict.fromkeys(WANTED, 0)

        @contextmanager
        def atomic_path(target):
            with real(target) as tmp:
                yield tmp
                name = Path(target).name
                if name in WANTED:
                    seen[name] += 1
                    if seen[name] == WANTED[name]["nth"]:
                        if WANTED[name].get("group"):
                            os.killpg(os.getpgid(0), signal.SIGKILL)
                        os.kill(os.getpid(), signal.SIGKILL)

        module.atomic_path = atomic_path

    class _Loader(importlib.abc.Loader):
        def __init__(self, inner) -> None:
            self.inner = inner

        def create_module(self, spec):
            return self.inner.create_module(spec)

        def exec_module(self, module) -> None:
            self.inner.exec_module(module)
            _patch(module)

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "morphopotency.io.atomic":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None:
                spec.loader = _Loader(spec.loader)
            return spec

    sys.meta_path.insert(0, _Finder())
