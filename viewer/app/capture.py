"""Screenshots: the splats alone (no UI), rendered offscreen at any size, saved as PNG."""

from __future__ import annotations

import datetime
from pathlib import Path

from viewer.image_files import save_png
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.settings import RenderSettings


def screenshot_path(directory: Path, now: datetime.datetime) -> Path:
    """A new file name in `directory`: splatscope-YYYYmmdd-HHMMSS[-n].png."""
    stem = f"splatscope-{now:%Y%m%d-%H%M%S}"
    path = directory / f"{stem}.png"
    index = 1
    while path.exists():
        path = directory / f"{stem}-{index}.png"
        index += 1
    return path


def screenshot_size(window: tuple[int, int], width: int, height: int) -> tuple[int, int]:
    """The image size for a chosen width/height, where 0 means the window's (keeping its aspect)."""
    if width and height:
        return width, height
    if width:
        return width, max(1, round(width * window[1] / window[0]))
    if height:
        return max(1, round(height * window[0] / window[1])), height
    return window


def save_screenshot(
    renderer: SplatRenderer,
    scene: GpuScene,
    inputs: FrameInputs,
    settings: RenderSettings,
    path: Path,
) -> Path:
    """Render the view offscreen and write it to `path` as an 8-bit PNG; returns `path`."""
    save_png(renderer.render_image(scene, inputs, settings), path)
    return path
