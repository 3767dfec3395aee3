"""What one frame is rendered from besides the scene and the settings, in one value."""

from __future__ import annotations

from dataclasses import dataclass

from viewer.camera import Camera
from viewer.render.layout import ALL_FLAGS


@dataclass(frozen=True)
class FrameInputs:
    """The per-frame inputs of `SplatRenderer.render` and `measure`.

    Attributes:
        camera: the view.
        flag_mask: flag bits that cull a Gaussian this frame (layout.FLAG_*); 0 ignores every
            flag (e.g. measuring pruning scores over the whole scene).
        gaze: (x, y) pixel the viewer looks at (foveated rendering), None for the image centre.
    """

    camera: Camera
    flag_mask: int = ALL_FLAGS
    gaze: tuple[float, float] | None = None

    def key(self) -> tuple:
        """A hashable value, equal for inputs that give the same image."""
        c = self.camera
        intrinsics = (c.width, c.height, c.fx, c.fy, c.cx, c.cy)
        return (*intrinsics, c.world_to_camera.tobytes(), self.flag_mask, self.gaze)
