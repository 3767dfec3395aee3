"""What a densification step costs the live window: the update with more Gaussians, in one run.

Usage: python scripts/bench_live_growth.py [--gaussians 1000000] [--added 50000] [--repeats 5]

The trainer's tensors are CPU tensors (the host path). Two ways of taking a grown model, timed
alternately in one process (medians):
- rebuild: write the rows, copy the whole model back to the host and make every feature state
  anew (what the live window did before it grew in place);
- in place: write the rows into the grown GPU scene and mark the host copy stale
  (`ViewerSession.rows_changed`), then one frame's update, which copies nothing back.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import random_scene
from viewer.camera import Camera
from viewer.core.session import ViewerSession
from viewer.protocol import ModelUpdate
from viewer.render.context import create_headless_context
from viewer.render.gpu_scene import GpuScene
from viewer.render.live_feed import LiveFeed
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet


def trainer_tensors(count: int, seed: int) -> dict[str, torch.Tensor]:
    """A trainer's raw parameters (gsplat's names) of `count` random Gaussians, SH degree 3."""
    scene = random_scene(np.random.default_rng(seed), count, sh_degree=3)
    logits = np.log(scene.opacities / (1.0 - scene.opacities))
    arrays = {"means": scene.means, "scales": np.log(scene.scales), "quats": scene.rotations,
              "opacities": logits, "sh0": scene.sh[:, :1], "shN": scene.sh[:, 1:]}  # fmt: skip
    return {name: torch.tensor(value) for name, value in arrays.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaussians", type=int, default=1_000_000)
    parser.add_argument("--added", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ctx = create_headless_context()
    renderer = SplatRenderer(ctx)
    base = trainer_tensors(args.gaussians, 1)
    feed = LiveFeed()

    def snapshot() -> GaussianScene:
        arrays = feed.host_arrays()
        return GaussianScene.from_arrays(
            arrays["means"], arrays["scales"], arrays["rotations"], arrays["opacities"],
            arrays["sh"], source="live",
        )  # fmt: skip

    feed.receive(ModelUpdate(1, 1, base))
    gpu = GpuScene(ctx, renderer.device, args.gaussians, raw=True)
    feed.apply(gpu)
    session = ViewerSession(renderer, snapshot(), gpu)
    camera = Camera.look_at((0.0, -4.0, 1.0), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), 320, 180)
    times: dict[str, list[float]] = {"rebuild": [], "in place": []}
    serial = 1
    for repeat in range(args.repeats):
        for how in times:
            count = args.gaussians + (repeat * 2 + (how == "in place") + 1) * args.added
            grown = {name: torch.cat([value, value[: count - args.gaussians]])
                     for name, value in base.items()}  # fmt: skip
            serial += 1
            feed.receive(ModelUpdate(serial, serial, grown))
            start = time.perf_counter()
            feed.apply(gpu)
            if how == "rebuild":
                session = ViewerSession(renderer, snapshot(), gpu)
            else:
                session.rows_changed(snapshot)
            session.update(SettingsSet(), camera, 0.0, None)
            ctx.finish()
            times[how].append((time.perf_counter() - start) * 1e3)
    medians = {how: statistics.median(values) for how, values in times.items()}
    for how, median in medians.items():
        print(f"{how:9s} median {median:7.1f} ms  ({', '.join(f'{t:.0f}' for t in times[how])})")
    print(f"in place / rebuild: {medians['in place'] / medians['rebuild']:.2f}")


if __name__ == "__main__":
    main()
