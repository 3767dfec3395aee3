"""Frame times of two revisions of splatscope, interleaved: `splatscope bench` of each in turn.

Checks out BASE in a temporary git worktree, then runs the bench of BASE and of this checkout
alternately, ROUNDS times each, on the same scenes, configs and size (no quality probe), and
prints per scene and config the median over rounds of each run's median frame time, and the
ratio this/base. Whole runs interleave (not frames), in alternating order, so machine load
spreads over both.

Usage: python scripts/compare_revisions.py --base 24e65b7 [--this HEAD] [--rounds 3] [--frames 12]
           [--keys near_plane=0.2,guard_band=2]   (settings added to both configs, e.g. to pin
                                                    rules that changed between the revisions)
           [--width 640 --height 360] [SCENE ...]   (default: donut.ply and the built-in scene)
           [--configs quads:backend=quads,tiles:backend=tiles]   (the default; ";" between configs
                                                    whose keys hold commas)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DONUT = ROOT.parent / "shared" / "scenes" / "donut.ply"
CONFIGS = "quads:backend=quads,tiles:backend=tiles"


def bench(tree: Path, scene: str | None, out: Path, args: argparse.Namespace) -> dict[str, float]:
    """{config: p50 frame ms} of one bench run of the checkout at `tree`."""
    command = [sys.executable, "-m", "viewer", "bench", *([scene] if scene else []),
               "--out", str(out), "--frames", str(args.frames), "--warmup", "3",
               "--width", str(args.width), "--height", str(args.height), "--no-quality",
               "--config",
               *(f"{c},{args.keys}" if args.keys else c for c in configs(args))]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree), "EGL_PLATFORM": "surfaceless"}
    subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True, text=True)
    report = json.loads((out / "report.json").read_text())
    return {c["name"]: c["frame_ms"]["p50"] for c in report["configs"]}


def configs(args: argparse.Namespace) -> list[str]:
    """The bench configs of --configs: split at ";" if it has one, else at ","."""
    return args.configs.split(";" if ";" in args.configs else ",")


def worktree(path: Path, revision: str) -> Path:
    """A detached git worktree of `revision` at `path`."""
    subprocess.run(["git", "worktree", "add", "--detach", str(path), revision], cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenes", nargs="*")
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--this", help="git revision to compare (default: this checkout as is)")
    parser.add_argument("--keys", default="", help="key=value settings added to every config")
    parser.add_argument("--configs", default=CONFIGS, help="bench configs, NAME:key=value")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    scenes: list[str | None] = list(args.scenes) or [str(DONUT), None]
    with tempfile.TemporaryDirectory() as tmp:
        base = worktree(Path(tmp) / "base", args.base)
        this = worktree(Path(tmp) / "this", args.this) if args.this else ROOT
        try:
            times: dict[tuple[str, str, str], list[float]] = {}
            for round_ in range(args.rounds):
                for scene in scenes:
                    pair = [("base", base), ("this", this)]
                    for label, tree in pair if round_ % 2 == 0 else pair[::-1]:
                        out = Path(tmp) / f"{label}-{round_}-{Path(scene or 'builtin').stem}"
                        for config, ms in bench(tree, scene, out, args).items():
                            key = (Path(scene or "builtin").name, config, label)
                            times.setdefault(key, []).append(ms)
        finally:
            for tree in {base, this} - {ROOT}:
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                               check=False, capture_output=True)  # fmt: skip
    print(f"{args.width}x{args.height}, {args.frames} frames per run, {args.rounds} rounds, "
          f"base {args.base}; p50 frame ms, median over rounds")  # fmt: skip
    print("| scene | config | base ms | this ms | this/base |")
    print("|---|---|---|---|---|")
    for scene in scenes:
        name = Path(scene or "builtin").name
        for config in (c.split(":")[0] for c in configs(args)):
            old = statistics.median(times[(name, config, "base")])
            new = statistics.median(times[(name, config, "this")])
            print(f"| {name} | {config} | {old:.1f} | {new:.1f} | {new / old:.3f} |")


if __name__ == "__main__":
    main()
