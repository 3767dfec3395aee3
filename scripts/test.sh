#!/usr/bin/env bash
# The test command (README, CI): set up, lint (ruff), type check (mypy), layer contract
# (import-linter), then the whole suite on 2 workers, no GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export EGL_PLATFORM=surfaceless
.venv/bin/ruff check viewer tests scripts
.venv/bin/ruff format --check viewer tests scripts
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider "$@"
