"""The bench's timed frames: cameras along a path (viewer.path_cameras), each with a gaze.

A path's frames may carry a gaze: the gaze grid (RTGS's measure of foveated rendering) renders
each camera with the gaze at each of 3 x 3 points of the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from viewer.camera import Camera

GAZE_GRID = (1.0 / 6.0, 0.5, 5.0 / 6.0)  # gaze grid rows and columns: fractions of the image


@dataclass(frozen=True)
class PathFrame:
    """One timed frame of the bench: a camera and, on the gaze grid, the point looked at.

    Attributes:
        camera: the view.
        gaze: (x, y) fractions of the image's width and height; None: each configuration's
            own gaze (`fov.gaze`: the image centre, or its fixed point).
    """

    camera: Camera
    gaze: tuple[float, float] | None = None


def path_frames(cameras: list[Camera], gaze_grid: bool = False) -> list[PathFrame]:
    """The timed frames along `cameras`: each once, or with the gaze at each grid point.

    On the grid a camera's 9 frames follow one another, row by row from the top left.
    """
    if not gaze_grid:
        return [PathFrame(camera) for camera in cameras]
    points = [(x, y) for y in GAZE_GRID for x in GAZE_GRID]
    return [PathFrame(camera, point) for camera in cameras for point in points]
