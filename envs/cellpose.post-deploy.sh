#!/usr/bin/env bash
# Installs the morphopotency library into this env from the workflow's own source (envs/README.md), and
# Cellpose without its declared dependencies (envs/cellpose.yaml says why; tests/test_envs.py reads the pin).
set -euo pipefail
python -m pip install --no-deps --no-cache-dir "${MORPHOPOTENCY_SOURCE:?see envs/README.md}"
python -m pip install --no-deps --no-cache-dir cellpose==3.1.1.3
