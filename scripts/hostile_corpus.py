"""Run the whole hostile-input corpus through the CLI and list every run that breaks the promise.

The corpus (tests/hostile_corpus.py): damaged scene files of every format through info, render
and convert; damaged camera files, camera paths and sweeps through render and bench; damaged
training datasets (every field of their JSON files with hostile values, images, points, COLMAP
files) and checkpoints through train; special files (FIFO, /dev/zero, folder, missing) in the
place of each. A run keeps the promise when it ends with one `splatscope: error:` line naming
the damaged file, exit code 2, no traceback and no output written (or succeeds, where the damage
can leave a valid input). Each kind runs in a child process of its own, with its address space
limited (--limit-gib) and an alarm per case.

Usage: python scripts/hostile_corpus.py [--seed N] [--kinds scene,camera,...] [--keep DIR]
           [--limit-gib 4] [--slowest 10]
Prints a line per broken run ('label: what: exit code | the last stderr line'), the counts per
kind, and exits with 1 when any run broke the promise (the next list of problems to fix).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tests.hostile_corpus import (  # noqa: E402
    ADDRESS_SPACE,
    KINDS,
    Case,
    checkpoint_cases,
    dataset_cases,
    json_cases,
    problem,
    run_cases,
    scene_cases,
)


def cases_of(kind: str, folder: Path, rng: np.random.Generator) -> list[Case]:
    """Every case of one kind (the JSON kinds come together: camera, path and sweep)."""
    if kind == "scene":
        return scene_cases(folder, rng, ("info", "render", "convert"))
    if kind == "dataset":
        return dataset_cases(folder, rng, full=True)
    if kind == "checkpoint":
        return checkpoint_cases(folder, rng)
    return [case for case in json_cases(folder, rng) if case.kind == kind]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026, help="the damage's random choices")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"of {', '.join(KINDS)}")
    parser.add_argument("--keep", type=Path, help="write the corpus here and keep it")
    parser.add_argument("--limit-gib", type=float, default=ADDRESS_SPACE / 2**30,
                        help="the child's address space (ulimit -v)")  # fmt: skip
    parser.add_argument("--slowest", type=int, default=5, help="list the N slowest runs")
    args = parser.parse_args()
    kinds = [kind for kind in args.kinds.split(",") if kind]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}")
    folder = args.keep or Path(tempfile.mkdtemp(prefix="hostile-corpus-"))
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    broken, counts, timings = 0, collections.Counter(), []
    try:
        for kind in kinds:
            start = time.monotonic()
            cases = cases_of(kind, folder / kind, rng)
            env = {"XDG_CACHE_HOME": str(folder / "cache")}
            results = run_cases(cases, env, limit=int(args.limit_gib * 2**30))
            for case, (code, stderr, seconds) in zip(cases, results, strict=True):
                timings.append((seconds, case.label))
                wrong = problem(case, code, stderr)
                counts[kind, "ok" if wrong is None else "broken"] += 1
                counts[kind, "succeeded" if code == 0 else "refused"] += 1
                if wrong is not None:
                    broken += 1
                    last = (stderr.strip().splitlines() or [""])[-1][:300]
                    print(f"{case.label}: {wrong}: exit {str(code)[:200]} | {last}", flush=True)
            print(
                f"-- {kind}: {len(cases)} runs, {counts[kind, 'broken']} broken, "
                f"{counts[kind, 'succeeded']} succeeded, {time.monotonic() - start:.0f} s",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    for seconds, label in sorted(timings, reverse=True)[: args.slowest]:
        print(f"slow: {seconds:6.2f} s {label}")
    print(f"{broken} broken runs" + (f"; corpus kept in {folder}" if args.keep else ""))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
