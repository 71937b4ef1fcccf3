#!/usr/bin/env bash
# Installs the morphopotency library into this env from the workflow's own source (envs/README.md).
set -euo pipefail
python -m pip install --no-deps --no-cache-dir "${MORPHOPOTENCY_SOURCE:?see envs/README.md}"
