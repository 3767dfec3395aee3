"""The viewer's own settings, described like the render settings so the same widgets edit them."""

from __future__ import annotations

from dataclasses import dataclass

from viewer.app.camera_controller import FOV_RANGE, MODES, UP_AXES
from viewer.settings import setting


@dataclass(frozen=True)
class DisplayOptions:
    """What the window shows and how often it draws."""

    vsync: bool = setting(True, "wait for the display refresh before showing a frame")
    redraw: bool = setting(
        False,
        "render the splats every frame even when nothing changed (for timing; "
        "otherwise only on change)",
    )
    panel: bool = setting(True, "this settings panel (U brings it back)")
    overlay: bool = setting(False, "timing overlay: FPS, frame-time graph, per-pass times")
    help: bool = setting(False, "the window listing every shortcut")


@dataclass(frozen=True)
class CameraOptions:
    """How the camera moves and projects."""

    mode: str = setting("orbit", "orbit around a pivot, or fly (WASD + mouse look)", choices=MODES)
    up_axis: str = setting("+Z", "world direction shown up on screen", choices=tuple(UP_AXES))
    fov_y_degrees: float = setting(50.0, "vertical field of view", unit="degrees", range=FOV_RANGE)


@dataclass(frozen=True)
class CaptureOptions:
    """Screenshots and camera path keyframes."""

    width: int = setting(0, "screenshot width; 0 = the window's", unit="pixels", range=(0, 8192))
    height: int = setting(0, "screenshot height; 0 = the window's", unit="pixels", range=(0, 8192))
    keyframe_step: float = setting(
        2.0, "time between a new keyframe and the previous one", unit="s", range=(0.1, 30.0)
    )
