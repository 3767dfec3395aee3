"""Write assets/builtin.ply from `make_builtin_scene` and reference-render preview PNGs.

Usage: python scripts/make_builtin_scene.py [--out assets/builtin.ply] [--preview-dir /tmp]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from viewer.builtin_scene import default_camera, make_builtin_scene, preview_cameras
from viewer.formats import save_scene
from viewer.reference import render_scene_reference
from viewer.settings import RenderSettings

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "builtin.ply")
    parser.add_argument("--preview-dir", type=Path, default=Path("/tmp"))
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    args = parser.parse_args()

    start = time.perf_counter()
    scene = make_builtin_scene()
    print(f"built {scene.count} Gaussians in {time.perf_counter() - start:.3f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_scene(scene, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")

    settings = RenderSettings(background=(0.05, 0.05, 0.07))
    cameras = {"default": default_camera(args.width, args.height)}
    cameras.update(preview_cameras(args.width, args.height))
    for name, camera in cameras.items():
        start = time.perf_counter()
        image = render_scene_reference(scene, camera, settings)  # [H, W, 3] float32
        path = args.preview_dir / f"builtin_{name}.png"
        Image.fromarray((np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)).save(path)
        print(f"rendered {path} in {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
