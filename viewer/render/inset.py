"""Foveated resolution: the periphery at a lower render scale, an inset at the full one.

A frame whose `Fovea.periphery_scale` is below 1 is drawn whole at its render scale times that
(stretched into the output as any render scale), then again in a rectangle around the fovea at
its own render scale: the inset. The rectangle bounds where the level is below 1 (the fovea and
its blend ramp up to where level 1 is reached) plus FEATHER pixels, clipped to the image. The
inset's camera is the frame's cropped to it (same pose and focal lengths, principal point moved
by the rectangle's corner), so its pixels are the full-scale image's pixels there; foveation
weighs them by the whole image's eye and gaze (`fovea.uniforms` with an origin). The resolve
lays the inset over the output with weight 1 inside the rectangle shrunk by FEATHER, falling
smoothly to 0 at its edges (no fade along edges on the image's border): the fovea is the
full-scale foveated render, the periphery the scaled one, and the feather lies outside the ramp.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

from viewer.camera import Camera
from viewer.render.fovea import Fovea, contour

FEATHER = 16  # pixels of the image rendered over which the inset fades into the periphery
SLACK = 1  # pixels around the sampled contour's bounds (the curve bulges between samples)
FAR = 1.0e9  # a fade edge no pixel reaches: no fade along the image's border


@dataclass(frozen=True)
class Placement:
    """Where resolve.frag lays an accumulation image over the output (its uniforms).

    Attributes:
        origin: the output pixel (GL rows, from the bottom) of the image's corner.
        extent: output pixels the image spans along x and y.
        fade: an inset's x0, y0, x1, y1 where its weight reaches 0 (None: the whole output).
        feather: an inset's width of the weight's ramp along x and y (None: the whole output).
    """

    origin: tuple[float, float]
    extent: tuple[float, float]
    fade: tuple[float, float, float, float] | None = None
    feather: tuple[float, float] | None = None


@dataclass(frozen=True)
class Inset:
    """A rectangle of an image, drawn at full scale over the scaled periphery.

    Attributes:
        box: x0, y0, x1, y1: pixels of the image (rows from the top), x1 and y1 exclusive.
        size: the image's width and height.
    """

    box: tuple[int, int, int, int]
    size: tuple[int, int]

    def camera(self, camera: Camera) -> Camera:
        """`camera` (of the image's size) cropped to the box: its pixels are the image's there."""
        x0, y0, x1, y1 = self.box
        return dataclasses.replace(
            camera, width=x1 - x0, height=y1 - y0, cx=camera.cx - x0, cy=camera.cy - y0
        )

    def corners(self, output_size: tuple[int, int]) -> tuple[float, float, float, float]:
        """The box in the GL pixels (rows from the bottom) of an output of `output_size`.

        The output may be larger than the image (a render scale below 1): the inset is then
        stretched as the image would be.
        """
        x0, y0, x1, y1 = self.box
        width, height = self.size
        sx, sy = output_size[0] / width, output_size[1] / height
        return x0 * sx, (height - y1) * sy, x1 * sx, (height - y0) * sy

    def placement(self, output_size: tuple[int, int]) -> Placement:
        """How resolve.frag lays the inset over an output of `output_size`."""
        x0, y0, x1, y1 = self.box
        width, height = self.size
        left, bottom, right, top = self.corners(output_size)
        fade = (
            -FAR if x0 == 0 else left,
            -FAR if y1 == height else bottom,
            FAR if x1 == width else right,
            FAR if y0 == 0 else top,
        )
        scale = (output_size[0] / width, output_size[1] / height)
        return Placement(
            origin=(left, bottom),
            extent=(right - left, top - bottom),
            fade=fade,
            feather=(FEATHER * scale[0], FEATHER * scale[1]),
        )

    def hidden(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The pixels of a width x height periphery that no output pixel shows, or None.

        The periphery is stretched bilinearly over the image and the inset laid over it with
        weight 1 inside the box shrunk by FEATHER (or up to a side on the image's border): a
        periphery pixel is sampled by the image's pixel centres less than one periphery pixel
        from its centre, and its value is unseen when they all have weight 1 (one periphery
        pixel of margin more). Returns x0, y0, x1, y1 (rows from the top, x1 and y1 exclusive) of
        the periphery's pixels every one of which is unseen; the raster may skip them.
        """
        x0, y0, x1, y1 = self.box
        full_width, full_height = self.size
        box = []
        for lo, hi, side, size in ((x0, x1, full_width, width), (y0, y1, full_height, height)):
            k = side / size  # the image's pixels per periphery pixel
            first = 0 if lo == 0 else math.ceil((lo + FEATHER) / k + 1.5)
            last = size if hi == side else math.floor((hi - FEATHER) / k - 1.5)
            box.append((max(first, 0), min(last, size)))
        (left, right), (top, bottom) = box
        if right <= left or bottom <= top:
            return None
        return left, top, right, bottom

    def viewport(self, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The output's whole pixels (x, y, width, height; GL rows) that the inset covers."""
        left, bottom, right, top = self.corners(output_size)
        x, y = math.floor(left), math.floor(bottom)
        return x, y, math.ceil(right) - x, math.ceil(top) - y


def plan(
    camera: Camera, fovea: Fovea | None, gaze: tuple[float, float] | None
) -> tuple[float, Inset | None]:
    """(scale of the whole frame, inset or None) for an image of `camera`, gaze in its pixels.

    (1, None) without foveated resolution and when the rectangle covers the whole image;
    (periphery_scale, None) when it falls outside the image.
    """
    if fovea is None or fovea.periphery_scale >= 1.0:
        return 1.0, None
    intrinsics = (camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy)
    return _plan(intrinsics, fovea, gaze)


@functools.lru_cache(maxsize=64)
def _plan(
    intrinsics: tuple[int, int, float, float, float, float],
    fovea: Fovea,
    gaze: tuple[float, float] | None,
) -> tuple[float, Inset | None]:
    """`plan` by the camera's intrinsics (the rectangle does not depend on the pose; cached)."""
    camera = Camera(*intrinsics)
    borders, width, _ = fovea.ramps()
    line = contour(camera, fovea, gaze, float(borders[0] + width))
    margin = FEATHER + SLACK
    lo = [math.floor(v) - margin for v in line.min(axis=0)]
    hi = [math.ceil(v) + margin for v in line.max(axis=0)]
    x0, y0 = max(lo[0], 0), max(lo[1], 0)
    x1, y1 = min(hi[0], camera.width), min(hi[1], camera.height)
    if (x0, y0, x1, y1) == (0, 0, camera.width, camera.height):
        return 1.0, None
    if x1 <= x0 or y1 <= y0:
        return fovea.periphery_scale, None
    return fovea.periphery_scale, Inset((x0, y0, x1, y1), (camera.width, camera.height))
