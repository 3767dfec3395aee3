"""`splatscope make-dataset`: a NeRF-synthetic-style dataset rendered from any scene.

Cameras on a sphere around the scene's framing (viewer.framing.Ring: its centre, distance and
field of view), directions spread evenly (a Fibonacci lattice) between +80 and -30 degrees of
elevation about the scene's up axis, highest first; training and held-out views interleave
along the lattice.
Written as NeRF-synthetic is: train/r_<i>.png, test/r_<i>.png, transforms_train.json and
transforms_test.json (camera_angle_x, camera-to-world in OpenGL axes), plus points3d.ply, a
subsample of the Gaussians' centres with their DC colours, the way COLMAP's sparse points seed
a training run. Everything goes to a temporary folder beside DIR that is renamed into place at
the end, so DIR is either absent or complete.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.atomic_write import atomic_folder
from viewer.camera import Camera
from viewer.errors import SceneError, quoted
from viewer.framing import Ring
from viewer.image_files import save_png
from viewer.scene import GaussianScene
from viewer.settings import RenderSettings
from viewer.sh import C0

ELEVATION_RANGE = (-30.0, 80.0)  # degrees above the horizontal plane through the scene's centre


@dataclass(frozen=True)
class DatasetPlan:
    """What `make_dataset` renders and writes."""

    views: int
    test_views: int
    width: int
    height: int
    points: int = 10_000
    up: str = "auto"
    seed: int = 0
    renderer: str = "auto"  # "gpu", "reference" or "auto" (gpu where a GL context opens)


def sphere_cameras(scene: GaussianScene, plan: DatasetPlan) -> tuple[list[Camera], list[Camera]]:
    """(training cameras, held-out cameras) looking at the scene from a Fibonacci lattice."""
    ring = Ring.framing(scene, plan.width, plan.height, plan.up)
    total = plan.views + plan.test_views
    lo, hi = (math.radians(a) for a in ELEVATION_RANGE)
    golden = math.pi * (3.0 - math.sqrt(5.0))
    cameras = []
    for i in range(total):
        fraction = 1.0 - (i + 0.5) / total  # from the top down: r_0 looks from high above
        # evenly spread on the band's area: sin(elevation) uniform over the band
        elevation = math.asin(math.sin(lo) + fraction * (math.sin(hi) - math.sin(lo)))
        cameras.append(ring.camera(i * golden, elevation, 1.0, plan.width, plan.height, f"r_{i}"))
    test_every = total / plan.test_views if plan.test_views else math.inf
    test_ids = {
        min(total - 1, int(k * test_every + test_every / 2)) for k in range(plan.test_views)
    }
    train = [c for i, c in enumerate(cameras) if i not in test_ids]
    test = [c for i, c in enumerate(cameras) if i in test_ids]
    return train, test


def _frame(camera: Camera, path: str) -> dict:
    c2w = camera.camera_to_world.copy()
    c2w[:3, 1:3] *= -1.0  # OpenCV (y down, z forward) -> OpenGL/Blender (y up, z back)
    return {"file_path": path, "rotation": 0.0, "transform_matrix": c2w.tolist()}


def _transforms(cameras: list[Camera], split: str) -> dict:
    first = cameras[0]
    return {
        "camera_angle_x": 2.0 * math.atan(first.width / (2.0 * first.fx)),
        "camera_angle_y": 2.0 * math.atan(first.height / (2.0 * first.fy)),
        "fl_x": first.fx, "fl_y": first.fy, "cx": first.cx, "cy": first.cy,
        "w": first.width, "h": first.height,
        "frames": [_frame(c, f"./{split}/{c.name}") for c in cameras],
    }  # fmt: skip


def _write_points(scene: GaussianScene, count: int, seed: int, path: Path) -> None:
    """points3d.ply: `count` centres (a random subsample) with 8-bit DC colours."""
    from plyfile import PlyData, PlyElement

    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(scene.count, size=min(count, scene.count), replace=False))
    rgb = np.clip((scene.sh[keep, 0] * C0 + 0.5) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    rows = np.zeros(len(keep), dtype=[(n, "<f4") for n in ("x", "y", "z", "nx", "ny", "nz")]
                    + [(n, "u1") for n in ("red", "green", "blue")])  # fmt: skip
    for axis, name in enumerate("xyz"):
        rows[name] = scene.means[keep, axis]
    for channel, name in enumerate(("red", "green", "blue")):
        rows[name] = rgb[:, channel]
    PlyData([PlyElement.describe(rows, "vertex")]).write(str(path))


def renderer_for(plan: DatasetPlan, scene: GaussianScene) -> tuple[str, Callable]:
    """(name, camera -> [H, W, 3] image) of the renderer the plan asks for.

    "auto" takes the GPU pipeline (EGL) where a context opens, else the torch reference.

    Raises:
        SceneError: when "gpu" is asked for and no GL context opens.
    """
    settings = RenderSettings()
    if plan.renderer in ("auto", "gpu"):
        from viewer.render.context import GLUnavailableError, create_headless_context

        try:
            ctx = create_headless_context()
        except GLUnavailableError as exc:
            if plan.renderer == "gpu":
                raise SceneError("--renderer gpu", str(exc)) from None
        else:
            from viewer.render.frame_inputs import FrameInputs
            from viewer.render.gpu_scene import GpuScene
            from viewer.render.renderer import SplatRenderer

            renderer = SplatRenderer(ctx)
            gpu_scene = GpuScene.from_scene(ctx, scene, renderer.device)

            def render_gpu(camera: Camera) -> np.ndarray:
                return renderer.render_image(gpu_scene, FrameInputs(camera), settings)

            return "gpu", render_gpu
    import torch

    from viewer.reference import render_reference_batched

    params = scene.to_torch()

    def render_reference(camera: Camera) -> np.ndarray:
        with torch.no_grad():
            return render_reference_batched(params, camera, settings).image.numpy()

    return "reference", render_reference


def make_dataset(
    scene: GaussianScene, plan: DatasetPlan, out: Path, progress: Callable[[int, int], None]
) -> str:
    """Render and write the dataset into `out` (created; it must not exist yet).

    Returns:
        The renderer used ("gpu" or "reference").
    """
    train, test = sphere_cameras(scene, plan)
    name, render = renderer_for(plan, scene)
    with atomic_folder(out, _must_be_empty) as staging:
        done = 0
        for split, cameras in (("train", train), ("test", test)):
            if not cameras:
                continue
            (staging / split).mkdir()
            for camera in cameras:
                save_png(render(camera), staging / split / f"{camera.name}.png")
                done += 1
                progress(done, len(train) + len(test))
            text = json.dumps(_transforms(cameras, split), indent=1)
            (staging / f"transforms_{split}.json").write_text(text)
        if plan.points:
            _write_points(scene, plan.points, plan.seed, staging / "points3d.ply")
    return name


def _must_be_empty(folder: Path) -> None:
    """Refuse to replace a folder that holds anything (made meanwhile: it was checked before)."""
    if any(folder.iterdir()):
        raise SceneError(f"--out {quoted(folder)}", "is not empty; choose a new folder")
