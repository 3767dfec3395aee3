"""A frame's inputs from the settings: the one place its cut, render scale and fovea are chosen."""

from __future__ import annotations

from viewer.camera import Camera
from viewer.features.foveation import frame_fovea, frame_gaze
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.settings import FoveationSettings


def frame_inputs(
    camera: Camera,
    cut: tuple[LodCut | None, float],
    fov: FoveationSettings,
    gaze: tuple[float, float] | None = None,
) -> FrameInputs:
    """The inputs of a frame of `camera`.

    Args:
        camera: the view.
        cut: (the LOD cut or None, the render scale), as `lod_controller.frame_cut` gives them.
        fov: the foveation settings (the fovea follows the cut: the lod source coarsens it).
        gaze: the pixel looked at; None: the settings' own (the centre, or the fixed point).
    """
    lod, scale = cut
    fovea = frame_fovea(fov, lod=lod is not None)
    if fovea is None:
        return FrameInputs(camera, lod=lod, render_scale=scale)
    look = gaze if gaze is not None else frame_gaze(fov, camera)
    return FrameInputs(camera, gaze=look, fovea=fovea, lod=lod, render_scale=scale)
