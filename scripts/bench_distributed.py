"""Data-parallel training on this machine: 1 process against N ranks, same global batch.

    python scripts/bench_distributed.py [--ranks 2] [--batch 4] [--steps 40] [--size 64]

Makes a NeRF-synthetic dataset (built-in scene, reference renderer), then runs `splatscope train`
with the reference renderer on the CPU, no densification (the Gaussian count stays fixed):
- 1 process, --train.batch B, with 1 thread and with every core (torch's intra-op threads);
- --nproc N, B / N images per rank, cores / N threads each (gloo all-reduce).
Reported per run: the step time (rank 0's time inside `Trainer.step`, from results.json), the
wall time of the whole command (start-up included), and the largest difference of the final
Gaussians from the first run's (the correctness check: summation order and thread count
differ, and Adam amplifies the rounding of gradients near zero over the steps); and the load
average, since other work on the machine shares its cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def splatscope(*args: str, threads: int | None = None) -> float:
    """Run `splatscope ARGS`; its wall time in seconds."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True,
                          text=True, env=env)  # fmt: skip
    if done.returncode:
        sys.exit(f"splatscope {' '.join(args)} failed:\n{done.stderr}")
    return time.perf_counter() - start


def final_params(out: Path, steps: int) -> dict[str, torch.Tensor]:
    """The Gaussians of the last checkpoint."""
    state = torch.load(out / f"chkpnt{steps}.pth", weights_only=True)
    return state["model"]["params"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--gaussians", type=int, default=5000)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        splatscope("make-dataset", "--views", "16", "--test-views", "1", "--width",
                   str(args.size), "--height", str(args.size), "--points", str(args.gaussians),
                   "--renderer", "reference", "--out", str(data))  # fmt: skip
        common = ["train", str(data), "--iterations", str(args.steps), "--train.batch",
                  str(args.batch), "--init-count", str(args.gaussians), "--densify-from",
                  str(10**6), "--train.backend", "reference", "--device", "cpu"]  # fmt: skip
        plans = {
            "1 process, 1 thread": ([], 1),
            f"1 process, {cores} threads": ([], cores),
            f"{args.ranks} processes, {max(1, cores // args.ranks)} thread each": (
                ["--nproc", str(args.ranks)], None),
        }  # fmt: skip
        runs = {}
        for number, (name, (extra, threads)) in enumerate(plans.items()):
            out = Path(tmp) / f"out{number}"
            wall = splatscope(*common, "--out", str(out), *extra, threads=threads)
            seconds = json.loads((out / "results.json").read_text())["seconds"]
            runs[name] = (seconds / args.steps, wall, final_params(out, args.steps))
    first = next(iter(runs.values()))[2]
    print(f"{cores} cores (load average {os.getloadavg()[0]:.1f}), batch {args.batch} of "
          f"{args.size}x{args.size} images, {args.gaussians:,} Gaussians, {args.steps} steps, "
          f"torch {torch.__version__}")  # fmt: skip
    for name, (step, wall, params) in runs.items():
        differ = max(float((params[k] - first[k]).abs().max()) for k in first)
        print(f"{name:26s} step {step * 1000:7.1f} ms, wall {wall:5.1f} s, largest difference "
              f"from the first {differ:.1e}")  # fmt: skip


if __name__ == "__main__":
    main()
