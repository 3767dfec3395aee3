#!/usr/bin/env bash
# The test command (README, CI): set up, lint (ruff), type check (mypy), layer contract
# (import-linter), then the whole suite on 2 workers, no GPU needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
scenes="$(cd .. && pwd)/shared/scenes"
if [ ! -f "$scenes/donut.ply" ] || [ ! -f "$scenes/guitar.compressed.ply" ]; then
    echo "test: the real test scenes are missing: expected $scenes (shared/scenes beside the checkout)" >&2
    exit 1
fi
export EGL_PLATFORM=surfaceless
.venv/bin/ruff check viewer tests scripts
.venv/bin/ruff format --check viewer tests scripts
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest -q -n 2 -p no:cacheprovider "$@"
