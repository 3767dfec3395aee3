#!/usr/bin/env bash
# Set up splatscope on a fresh Debian 12 machine: system GL/X packages (when missing), a venv
# in .venv with torch 2.13.0 (the CPU build where pip finds it, else PyPI's CUDA one: README, "Which
# torch") and the package installed editable with its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(python3-venv libgl1 libgl1-mesa-dri libglx-mesa0 libegl1 libegl-mesa0 libgles2
          libopengl0 xvfb xauth xdotool x11-utils libglfw3)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e ".[dev]"

# The cpu backend (what --backend auto picks on software GL) compiles its numba kernels on first
# use, 1-2 minutes on 2 cores: compile them now into the user's cache (docs/performance.md), so the
# first frame does not wait. Best effort: a machine where no GL context opens skips it.
warm=$(mktemp -d)
trap 'rm -rf "$warm"' EXIT
echo "setup: compiling the cpu backend's kernels (once, about a minute)"
for preset in full balanced; do
    args=(--backend cpu --width 64 --height 48 --out "$warm/$preset.png")
    [ "$preset" = balanced ] && args+=(--preset balanced)
    if ! .venv/bin/python -m viewer render "${args[@]}" >/dev/null 2>"$warm/err"; then
        echo "setup: skipped compiling the cpu backend's kernels: $(tail -n 1 "$warm/err")"
        break
    fi
done
# the window's resolve writes 8-bit colour: its own specialisation, 2-3 s of the first window
.venv/bin/python -c "import numpy as np; from viewer.render.cpu_kernels import resolve_rows
resolve_rows(np.zeros((2, 2, 4), np.float32), np.zeros(3, np.float32),
             np.zeros((2, 2, 4), np.uint8), True)"
