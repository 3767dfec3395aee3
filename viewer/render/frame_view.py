"""One image a frame's passes render, with what they decide from the inputs and the scene.

`FrameView.of` is the one place that turns `FrameInputs` (camera, flag mask, gaze, fovea, LOD
cut, render scale) and the scene's attachments into what the passes read: the camera at render
scale (or an inset's crop of it), the fovea's uniforms, whether the scene's nested subsets are
drawn, the LOD cut and the rows and flags it implies. The renderer then runs its passes in a
straight line; none of them re-derives these.
"""

from __future__ import annotations

from dataclasses import dataclass

from viewer.camera import Camera
from viewer.render.fovea import FoveaUniforms, render_gaze, uniforms
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.inset import Inset, plan
from viewer.render.layout import FLAG_LOD_CULLED


@dataclass(frozen=True)
class FrameView:
    """One image a frame's passes render.

    Attributes:
        camera: the image's camera (render scale in; an inset's crop of `whole`).
        whole: the camera of the whole image at this render scale.
        flag_mask: flag bits that cull; FLAG_LOD_CULLED is left out on a scene with LOD nodes
            when no cut runs (an earlier frame's cut must not hide the leaves).
        rows: rows drawn from: every row with an LOD cut, else the scene's own Gaussians.
        lod: the frame's LOD cut when the scene has LOD nodes to cut, else None.
        fovea: the frame's fovea for this image when it is foveated, else None (the LOD cut
            follows it even when no subsets are drawn).
        lod_tau_scale: with `fovea`, tau's growth per level beyond level 1.
        subsets: `fovea` when the frame draws the scene's nested subsets, else None (also while
            the scene holds no levels yet: the whole scene is drawn).
        hidden: pixels of this image that no output pixel shows (x0, y0, x1, y1, rows from
            the top, `Inset.hidden`): a foveated-resolution periphery's under its inset. A
            raster may leave them undrawn; None: every pixel shows.
    """

    camera: Camera
    whole: Camera
    flag_mask: int
    rows: int
    lod: LodCut | None = None
    fovea: FoveaUniforms | None = None
    lod_tau_scale: float = 1.0
    subsets: FoveaUniforms | None = None
    hidden: tuple[int, int, int, int] | None = None

    @classmethod
    def of(cls, scene: GpuScene, inputs: FrameInputs, inset: Inset | None = None) -> FrameView:
        """The view of `inputs` on `scene`: the whole image, or `inset`'s crop of it."""
        camera = inputs.render_camera
        fovea = inputs.fovea
        fovea_uniforms = None
        if fovea is not None:
            gaze = render_gaze(inputs.camera, camera, inputs.gaze)
            origin = (0, 0) if inset is None else (inset.box[0], inset.box[1])
            fovea_uniforms = uniforms(camera, fovea, gaze, origin)
        subsets = fovea is not None and fovea.subsets and scene.subsets is not None
        lod = inputs.lod if scene.lod_nodes else None
        mask = inputs.flag_mask
        if scene.lod_nodes and lod is None:
            mask &= ~FLAG_LOD_CULLED
        return cls(
            camera=camera if inset is None else inset.camera(camera),
            whole=camera,
            flag_mask=mask,
            rows=scene.count if lod is not None else scene.leaves,
            lod=lod,
            fovea=fovea_uniforms,
            lod_tau_scale=1.0 if fovea is None else fovea.lod_tau_scale,
            subsets=fovea_uniforms if subsets else None,
        )


def plan_of(inputs: FrameInputs) -> tuple[float, Inset | None]:
    """Foveated resolution's (scale of the whole frame, inset) for `inputs` (`inset.plan`)."""
    camera = inputs.render_camera
    return plan(camera, inputs.fovea, render_gaze(inputs.camera, camera, inputs.gaze))
