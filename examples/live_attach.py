"""A training loop of your own, watched live in a splatscope window.

    python examples/live_attach.py [SCENE] [--steps 300] [--gaussians 3000] [--no-wait]

The loop fits random Gaussians to eight 96x96 views of a scene (the built-in one by default)
with the torch reference renderer and Adam: any loop that holds Gaussian parameters as tensors
attaches the same way. The window's Training panel pauses it, steps it one iteration at a
time, scales its learning rates and caps the SH degree it trains.
"""

from __future__ import annotations

import argparse
import math

import torch

from viewer import live
from viewer.builtin_scene import load_scene_or_builtin
from viewer.framing import Ring
from viewer.reference import render_reference_batched, render_scene_reference
from viewer.settings import RenderSettings

SIZE = 96
VIEWS = 8
RATES = {
    "means": 2e-3, "scales": 5e-3, "quats": 1e-3, "opacities": 5e-2, "sh0": 5e-3, "shN": 2.5e-4,
}  # fmt: skip


def activated(params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The renderer's inputs from raw parameters."""
    return {
        "means": params["means"],
        "scales": params["scales"].exp(),
        "rotations": torch.nn.functional.normalize(params["quats"], dim=-1),
        "opacities": params["opacities"].sigmoid(),
        "sh": torch.cat([params["sh0"], params["shN"]], dim=1),
    }


def main() -> None:
    """Train, showing every step in the live window."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scene", nargs="?", help="scene file (default: the built-in scene)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--gaussians", type=int, default=3000)
    parser.add_argument("--no-wait", action="store_true", help="close the window at the end")
    args = parser.parse_args()

    scene = load_scene_or_builtin(args.scene)
    ring = Ring.framing(scene, SIZE, SIZE)
    cameras = [
        ring.camera(2 * math.pi * i / VIEWS, ring.elevation, 1.0, SIZE, SIZE, f"view {i}")
        for i in range(VIEWS)
    ]
    targets = [torch.from_numpy(render_scene_reference(scene, c)) for c in cameras]

    # the model: random Gaussians in the scene's bounds, parameters as a trainer holds them
    generator = torch.Generator().manual_seed(0)
    lo, hi = (torch.from_numpy(b) for b in scene.robust_bounds())
    n = args.gaussians
    params = {
        "means": lo + (hi - lo) * torch.rand(n, 3, generator=generator),
        "scales": torch.full((n, 3), math.log(0.02 * float((hi - lo).norm()))),
        "quats": torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
        "opacities": torch.full((n,), -2.0),
        "sh0": torch.zeros(n, 1, 3),
        "shN": torch.zeros(n, 3, 3),  # SH degree 1
    }
    params = {name: value.requires_grad_() for name, value in params.items()}
    optimizer = torch.optim.Adam([{"params": [v], "name": k} for k, v in params.items()], lr=0.0)

    view = live.attach(title="my training loop", cameras=cameras)
    for step in range(1, args.steps + 1):
        view.wait_while_paused()  # the panel's Pause / Step
        controls = view.controls
        for group in optimizer.param_groups:
            group["lr"] = RATES[group["name"]] * controls.lr_scale
        index = step % VIEWS
        settings = RenderSettings(sh_degree=min(controls.sh_degree, 1))
        image = render_reference_batched(activated(params), cameras[index], settings, tile_size=4)
        loss = (image.image - targets[index]).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        view.update(step, loss=loss.item(), **params)  # returns at once
        if step % 50 == 0:
            print(f"step {step}: loss {loss.item():.4f}", flush=True)
    view.finish(f"done after {args.steps} steps", wait=not args.no_wait)
    print(
        f"the window drew {view.acknowledged} updates via {view.upload or 'no window'}"
        + (f" ({view.error})" if view.error else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
