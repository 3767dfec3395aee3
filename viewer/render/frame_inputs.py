"""What one frame is rendered from besides the scene and the settings, in one value."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from viewer.camera import Camera
from viewer.render.fovea import Fovea
from viewer.render.layout import ALL_FLAGS


@dataclass(frozen=True)
class LodCut:
    """The level of detail of one frame (viewer/render/lod_cut.py).

    Attributes:
        tau: pixels: a node is drawn when its projected size is below tau and its parent's is
            not (the tau cut).
        budget: > 0: at most this many nodes, tau found on the GPU (the budget cut).
        blend_width: nodes blend towards their parent over sizes from size(parent) / width up
            to size(parent); 1: no blending (hard switches).
    """

    tau: float = 2.0
    budget: int = 0
    blend_width: float = 2.0


@dataclass(frozen=True)
class FrameInputs:
    """The per-frame inputs of `SplatRenderer.render` and `measure`.

    Attributes:
        camera: the view.
        flag_mask: flag bits that cull a Gaussian this frame (layout.FLAG_*); 0 ignores every
            flag (e.g. measuring pruning scores over the whole scene).
        gaze: (x, y) pixel the viewer looks at (foveated rendering), None for the image centre.
        fovea: foveated rendering around the gaze (viewer/render/fovea.py), or None.
        lod: the level-of-detail cut, or None to draw the scene's own Gaussians (also when the
            scene has no LOD nodes attached).
        render_scale: the splats are rendered at this fraction of the camera's width and height
            and stretched to the output (1: full resolution).
    """

    camera: Camera
    flag_mask: int = ALL_FLAGS
    gaze: tuple[float, float] | None = None
    fovea: Fovea | None = None
    lod: LodCut | None = None
    render_scale: float = 1.0

    @property
    def render_camera(self) -> Camera:
        """The camera of the image the passes render: `camera` at `render_scale`."""
        return scaled_camera(self.camera, self.render_scale)

    def key(self) -> tuple:
        """A hashable value, equal for inputs that give the same image."""
        c = self.camera
        intrinsics = (c.width, c.height, c.fx, c.fy, c.cx, c.cy)
        return (
            *intrinsics, c.world_to_camera.tobytes(), self.flag_mask, self.gaze, self.fovea,
            self.lod, self.render_scale,
        )  # fmt: skip


def scaled_camera(camera: Camera, scale: float) -> Camera:
    """`camera` rendering round(scale x) its width and height (at least 1), same view.

    The pixel grid is stretched exactly: pixel edges of the small image fall on the same
    lines of the view as the full image's, scaled.
    """
    if scale >= 1.0:
        return camera
    width = max(1, round(camera.width * scale))
    height = max(1, round(camera.height * scale))
    sx, sy = width / camera.width, height / camera.height
    return dataclasses.replace(
        camera,
        width=width,
        height=height,
        fx=camera.fx * sx,
        fy=camera.fy * sy,
        cx=camera.cx * sx,
        cy=camera.cy * sy,
    )
