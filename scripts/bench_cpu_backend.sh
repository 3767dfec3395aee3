#!/usr/bin/env bash
# The cpu backend against quads, with LOD and the balanced preset, on donut.ply, guitar and the
# built-in scene at 1280x720 (README, "Key numbers"; docs/performance.md). Each scene is one bench
# run, its configurations interleaved frame by frame. Usage: bash scripts/bench_cpu_backend.sh OUT
# (scenes from ../shared/scenes, or SCENES=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash scripts/bench_cpu_backend.sh OUT}
scenes=${SCENES:-../shared/scenes}
bench=(.venv/bin/python -m viewer bench --warmup 3)
"${bench[@]}" "$scenes/donut.ply" --out "$out/donut" --frames 12 --config quads:backend=quads \
    cpu:backend=cpu q25:backend=cpu,lod.budget=11406 balanced:backend=cpu,preset=balanced
"${bench[@]}" "$scenes/guitar.compressed.ply" --out "$out/guitar" --frames 12 --config \
    cpu:backend=cpu q25:backend=cpu,lod.budget=22725 balanced:backend=cpu,preset=balanced
"${bench[@]}" --out "$out/builtin" --frames 20 --config quads:backend=quads cpu:backend=cpu \
    q25:backend=cpu,lod.budget=5890 balanced:backend=cpu,preset=balanced \
    fps30:backend=cpu,lod.target_fps=30
