"""Make the golden renders of tests/golden/: tiny scenes with their float64 reference images.

Each file `<name>.npz` holds one scene (means, scales, rotations, opacities, sh), one camera
(width, height, fx, fy, cx, cy, world_to_camera), the render settings it was made with (as JSON)
and `image`: [H, W, 3] float32 from the CPU reference renderer in float64. tests/test_golden.py
renders them again (reference and GPU, both backends) and compares.

tests/golden/modes/ holds the same for the depth and heatmap modes, an LOD cut and foveation
(with what each needs besides: heat values, the cut, the fovea, gaze and stored levels); their
references are tests/golden_modes.py's and tests/test_golden_modes.py checks them.

Run this only when image formation changes on purpose, and say why in the commit.

Usage: python scripts/make_golden.py [--out tests/golden]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.golden_modes import ModeCase, reference_images, save
from viewer.camera import Camera
from viewer.features.foveation import subset_levels
from viewer.reference import render_reference
from viewer.render.fovea import Fovea
from viewer.render.frame_inputs import LodCut
from viewer.scene import GaussianScene
from viewer.settings import RenderSettings

WIDTH, HEIGHT = 48, 32


def _scene(rng: np.random.Generator, count: int, degree: int, centre: float, spread: float,
           log_scale: float) -> GaussianScene:  # fmt: skip
    return GaussianScene.from_arrays(
        rng.normal(centre, spread, size=(count, 3)),
        np.exp(rng.normal(log_scale, 0.5, size=(count, 3))),
        rng.normal(size=(count, 4)),
        rng.uniform(0.1, 1.0, size=count),
        rng.normal(0.0, 0.5, size=(count, (degree + 1) ** 2, 3)),
        source="golden",
    )


def _shell(rng: np.random.Generator) -> GaussianScene:
    """Large splats on a sphere of radius 2 around the camera: most centres outside the view."""
    directions = rng.normal(size=(80, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return GaussianScene.from_arrays(
        directions * 2.0,
        np.full((80, 3), 0.6) * rng.uniform(0.7, 1.3, size=(80, 1)),
        rng.normal(size=(80, 4)),
        rng.uniform(0.3, 0.9, size=80),
        rng.normal(0.0, 0.4, size=(80, 4, 3)),
        source="golden",
    )


def cases() -> dict[str, tuple[GaussianScene, Camera, RenderSettings]]:
    """The golden scenes, cameras and settings, by name (deterministic)."""
    rng = np.random.default_rng(2026)
    front = Camera.look_at(np.array([0.0, -3.0, 0.8]), np.zeros(3), width=WIDTH, height=HEIGHT,
                           fov_y_degrees=45.0)  # fmt: skip
    inside = Camera.look_at(np.zeros(3), np.array([1.0, 0.3, 0.1]), width=WIDTH, height=HEIGHT,
                            fov_y_degrees=70.0)  # fmt: skip
    tiny = Camera.look_at(np.array([0.0, -0.3, 0.08]), np.zeros(3), width=WIDTH, height=HEIGHT,
                          fov_y_degrees=45.0)  # fmt: skip
    return {
        "sh3": (_scene(rng, 120, 3, 0.0, 0.5, -3.0), front, RenderSettings()),
        "sh1_antialias": (
            _scene(rng, 120, 1, 0.0, 0.5, -3.5),
            front,
            RenderSettings(antialias=True, background=(0.2, 0.3, 0.4)),
        ),
        "inside_shell": (_shell(rng), inside, RenderSettings(near_plane=0.01)),
        "tenth_of_a_unit": (
            _scene(rng, 120, 0, 0.0, 0.02, -5.5),
            tiny,
            RenderSettings(near_plane=0.01),
        ),
    }


def mode_cases() -> list[ModeCase]:
    """The golden cases of the depth and heatmap modes, an LOD cut and foveation."""
    rng = np.random.default_rng(2027)
    front = Camera.look_at(np.array([0.4, -2.6, 0.9]), np.zeros(3), width=WIDTH, height=HEIGHT,
                           fov_y_degrees=45.0)  # fmt: skip
    wide = Camera.look_at(np.array([0.0, -2.2, 0.6]), np.zeros(3), width=WIDTH, height=HEIGHT,
                          fov_y_degrees=70.0)  # fmt: skip
    depth_scene = _scene(rng, 100, 1, 0.0, 0.6, -3.0)
    heat_scene = _scene(rng, 100, 0, 0.0, 0.5, -3.0)
    lod_scene = _scene(rng, 160, 1, 0.0, 0.5, -3.2)
    fovea_scene = _scene(rng, 160, 1, 0.0, 0.7, -3.0)
    return [
        ModeCase("depth", "depth", depth_scene, front, RenderSettings(mode="depth")),
        ModeCase(
            "heatmap",
            "heatmap",
            heat_scene,
            front,
            RenderSettings(mode="heatmap"),
            heat=rng.uniform(size=100).astype(np.float32),
        ),
        ModeCase("lod_cut", "lod", lod_scene, front, RenderSettings(), lod=LodCut(tau=8.0)),
        ModeCase(
            "fovea",
            "fovea",
            fovea_scene,
            wide,
            RenderSettings(),
            fovea=Fovea(borders=(8.0, 16.0, 24.0), blend=4.0),
            gaze=(30.0, 12.0),
            levels=subset_levels(rng.uniform(size=160), (1.0, 0.5, 0.3, 0.2)),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "tests" / "golden")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (scene, camera, settings) in cases().items():
        params = scene.to_torch()
        with torch.no_grad():
            image = render_reference(params, camera, settings, dtype=torch.float64).image
        assert math.isfinite(float(image.sum())) and float(image.max()) > 0.05, name
        np.savez_compressed(
            args.out / f"{name}.npz",
            **{k: getattr(scene, k) for k in ("means", "scales", "rotations", "opacities", "sh")},
            camera=json.dumps(camera.to_dict()),
            settings=json.dumps(dataclasses.asdict(settings)),
            image=image.numpy().astype(np.float32),
        )
        print(f"{name}: {scene.count} Gaussians, {camera.width}x{camera.height}")
    (args.out / "modes").mkdir(exist_ok=True)
    for case in mode_cases():
        images = reference_images(case)
        assert all(math.isfinite(float(i.sum())) and float(i.max()) > 0.05 for i in images.values())
        path = save(case, images, args.out / "modes")
        print(f"modes/{case.name}: {case.kind}, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
