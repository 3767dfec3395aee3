"""Preprocess pass: cull, project, colour and append the visible Gaussians (preprocess.comp)."""

from __future__ import annotations

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import COLOUR_DEPTH, COLOUR_HEAT, COLOUR_SH, WORKGROUP_SIZE
from viewer.render.programs import compute_shader, set_uniforms
from viewer.settings import RenderSettings


def camera_uniforms(camera: Camera) -> dict[str, object]:
    """The camera as the uniforms the passes share."""
    return {
        "world_to_camera": camera.world_to_camera.astype(np.float32),
        "camera_position": tuple(float(v) for v in camera.position),
        "intrinsics": (camera.fx, camera.fy, camera.cx, camera.cy),
        "viewport": (float(camera.width), float(camera.height)),
    }


COLOUR_SOURCES = {"depth": COLOUR_DEPTH, "heatmap": COLOUR_HEAT}  # other modes: COLOUR_SH


def depth_range(camera: Camera, bounds: tuple[np.ndarray, np.ndarray], near: float) -> tuple:
    """(near, far) camera z of the box `bounds` ([3] lo, [3] hi), starting at the near plane."""
    lo, hi = bounds
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    z = corners @ camera.world_to_camera[2, :3] + camera.world_to_camera[2, 3]  # [8]
    first = max(float(z.min()), near)
    return first, max(float(z.max()), first * 1.01 + 1e-6)


class PreprocessPass:
    """Runs preprocess.comp over every scene chunk, appending into the frame buffers."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.shader = compute_shader(ctx, "preprocess.comp")

    def run(
        self,
        scene: GpuScene,
        frame: FrameBuffers,
        camera: Camera,
        settings: RenderSettings,
        flag_mask: int,
    ) -> None:
        """Append every visible Gaussian of `scene` seen by `camera` to `frame`."""
        set_uniforms(
            self.shader,
            **camera_uniforms(camera),
            near_plane=scene.near_plane(settings),
            guard_band=settings.guard_band,
            splat_scale=settings.splat_scale,
            sh_degree=min(settings.sh_degree, scene.sh_degree),
            sh_coeffs=scene.sh_coeffs,
            antialias=settings.antialias,
            raw_parameters=scene.raw,
            flag_mask=flag_mask,
            capacity=frame.capacity,
            colour_source=COLOUR_SOURCES.get(settings.mode, COLOUR_SH),
            depth_range=depth_range(camera, scene.bounds, scene.near_plane(settings)),
        )
        frame.bind()
        for chunk, count in scene.live_chunks():
            chunk.bind()
            set_uniforms(self.shader, chunk_offset=chunk.offset, chunk_count=count)
            self.shader.run(group_x=(count + WORKGROUP_SIZE - 1) // WORKGROUP_SIZE)
        self.ctx.memory_barrier()
