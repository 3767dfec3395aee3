"""Scene context over the view: training-camera frustums, world axes, a ground grid, SfM points.

The segments and points of viewer.scene_context are projected with the view's camera and drawn
with ImGui's background draw list (behind every UI window, over the splat image, no depth test
against the splats). A click near a frustum picks its camera (`ContextOverlay.pick`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from imgui_bundle import imgui

from viewer.camera import Camera
from viewer.scene_context import (
    AXES_SHARE,
    FRUSTUM_SHARE,
    axes_segments,
    frustum_segments,
    grid_segments,
    pick_frustum,
    project_points,
    project_segments,
    scene_size,
)
from viewer.settings import DisplayOptions

FRUSTUM_COLOUR = imgui.ImVec4(1.0, 0.78, 0.2, 0.9)
CURRENT_FRUSTUM_COLOUR = imgui.ImVec4(0.3, 1.0, 0.4, 1.0)  # the camera last flown to
GRID_COLOUR = imgui.ImVec4(0.75, 0.75, 0.75, 0.35)
POINT_COLOUR = imgui.ImVec4(1.0, 0.35, 0.85, 0.85)
POINT_SIZE = 2.0  # window units: a point's square
AXIS_COLOURS = (
    imgui.ImVec4(1.0, 0.25, 0.25, 1.0),
    imgui.ImVec4(0.3, 1.0, 0.3, 1.0),
    imgui.ImVec4(0.35, 0.5, 1.0, 1.0),
)
LINE_THICKNESS = 1.5
AXIS_THICKNESS = 2.5
PICK_TOLERANCE = 6.0  # window units from a frustum's apex or rectangle that a click picks it


@dataclass(frozen=True)
class SceneFrame:
    """What the context is drawn from: the scene's box, world up, training cameras and points.

    Attributes:
        lo, hi: [3] the scene's framing box. up: [3] the controller's world up (an axis).
        cameras: the training cameras. points: [P, 3] SfM points, or None.
    """

    lo: np.ndarray
    hi: np.ndarray
    up: np.ndarray
    cameras: Sequence[Camera]
    points: np.ndarray | None = None

    @property
    def frustum_depth(self) -> float:
        """World depth of each frustum's image rectangle."""
        return FRUSTUM_SHARE * scene_size(self.lo, self.hi)


def draw_context(
    display: DisplayOptions,
    frame: SceneFrame,
    view: Camera,
    near: float,
    to_window: tuple[float, float],
    current: int = -1,
) -> None:
    """Draw what `display` asks for (grid, axes, points, frustums) over the view.

    Args:
        display: the display options (their `grid`, `axes`, `points` and `frustums` switches).
        frame: the scene's box, up and cameras.
        view: the camera of the view shown.
        near: the view's near plane.
        to_window: window units per image pixel in x and y (HiDPI: not 1).
        current: the index of the camera last flown to (drawn in another colour), or -1.
    """
    if not (display.grid or display.axes or display.frustums or display.points):
        return
    draw = imgui.get_background_draw_list()
    sx, sy = to_window

    def lines(segments: np.ndarray, colours: Sequence[int], thickness: float) -> None:
        pixels, kept = project_segments(view, segments, near)
        for (a, b), index in zip(pixels.tolist(), kept.tolist(), strict=True):
            draw.add_line(
                imgui.ImVec2(a[0] * sx, a[1] * sy),
                imgui.ImVec2(b[0] * sx, b[1] * sy),
                colours[index],
                thickness,
            )

    if display.grid:
        segments = grid_segments(frame.lo, frame.hi, frame.up)
        lines(segments, [imgui.get_color_u32(GRID_COLOUR)] * len(segments), 1.0)
    if display.axes:
        length = AXES_SHARE * scene_size(frame.lo, frame.hi)
        lines(axes_segments(length), [imgui.get_color_u32(c) for c in AXIS_COLOURS],
              AXIS_THICKNESS)  # fmt: skip
    if display.points and frame.points is not None:
        _dots(draw, project_points(view, frame.points, near, POINT_SIZE / min(sx, sy)), to_window)
    if display.frustums and frame.cameras:
        depth = frame.frustum_depth
        segments = np.concatenate([frustum_segments(c, depth) for c in frame.cameras])
        each = len(segments) // len(frame.cameras)
        colour, highlight = (imgui.get_color_u32(c) for c in (FRUSTUM_COLOUR,
                                                               CURRENT_FRUSTUM_COLOUR))  # fmt: skip
        colours = [highlight if i // each == current else colour for i in range(len(segments))]
        lines(segments, colours, LINE_THICKNESS)


def _dots(draw: imgui.ImDrawList, pixels: np.ndarray, to_window: tuple[float, float]) -> None:
    """A POINT_SIZE square at each of the [K, 2] image `pixels`, in one reservation."""
    if not len(pixels):
        return
    colour = imgui.get_color_u32(POINT_COLOUR)
    half = POINT_SIZE / 2.0
    corners = pixels * np.asarray(to_window) - half
    draw.prim_reserve(6 * len(corners), 4 * len(corners))  # two triangles, four corners each
    for x, y in corners.tolist():
        draw.prim_rect(imgui.ImVec2(x, y), imgui.ImVec2(x + POINT_SIZE, y + POINT_SIZE), colour)


def pick_camera(
    frame: SceneFrame, view: Camera, near: float, pixel: tuple[float, float], pixels_per_unit: float
) -> int | None:
    """The training camera whose drawn frustum is within PICK_TOLERANCE of `pixel`, or None.

    Args:
        frame: the scene's box, up and cameras.
        view: the camera of the view shown.
        near: the view's near plane.
        pixel: (x, y) in the view's image pixels.
        pixels_per_unit: image pixels per window unit (HiDPI: not 1).
    """
    return pick_frustum(
        view, frame.cameras, frame.frustum_depth, pixel, near, PICK_TOLERANCE * pixels_per_unit
    )
