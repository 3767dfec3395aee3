"""Preprocess pass: cull, project, colour and append the visible Gaussians (preprocess.comp)."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.fovea import SubsetUniforms
from viewer.render.frame_buffers import FrameBuffers
from viewer.render.frame_view import FrameView
from viewer.render.gpu_scene import GpuScene, RowBuffer
from viewer.render.layout import (
    BINDING_LOD_BLEND,
    BINDING_LOD_PARENT_SH,
    BINDING_ROW_LIST,
    COLOUR_DEPTH,
    COLOUR_HEAT,
    COLOUR_LOD_LEVEL,
    COLOUR_SH,
    WORKGROUP_SIZE,
)
from viewer.render.programs import CameraUniforms, compute_shader, set_uniforms
from viewer.settings import RenderSettings

COLOUR_SOURCES = {"depth": COLOUR_DEPTH, "heatmap": COLOUR_HEAT}  # other modes: COLOUR_SH


def colour_source(settings: RenderSettings) -> int:
    """Where the preprocess pass takes a splat's colour from in `settings`' mode."""
    if settings.mode == "heatmap" and settings.heatmap == "lod_level":
        return COLOUR_LOD_LEVEL  # computed on the GPU from the level drawn
    return COLOUR_SOURCES.get(settings.mode, COLOUR_SH)


def depth_range(
    camera: Camera, bounds: tuple[np.ndarray, np.ndarray], near: float
) -> tuple[float, float]:
    """(near, far) camera z of the box `bounds` ([3] lo, [3] hi), starting at the near plane."""
    lo, hi = bounds
    corners = np.array(
        [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
    )
    z = corners @ camera.world_to_camera[2, :3] + camera.world_to_camera[2, 3]  # [8]
    first = max(float(z.min()), near)
    return first, max(float(z.max()), first * 1.01 + 1e-6)


@dataclass(frozen=True)
class PreprocessUniforms:
    """What preprocess.comp is given for a frame (the shader's comments say what each is).

    Attributes:
        lod_top_level: the LOD variant only: the deepest level (the level heat colour's top).
        subsets: the FOVEA variant only: the fovea and the rows of the scene's stored levels.
        fov_per_splat: the FOVEA variant only: weigh a splat's opacity (else only drop splats
            of weight 0, for a raster that weighs per pixel).
    """

    camera: CameraUniforms
    tan_half_fov: tuple[float, float]
    near_plane: float
    guard_band: float
    splat_scale: float
    sh_degree: int
    sh_coeffs: int
    antialias: bool
    raw_parameters: bool
    flag_mask: int
    capacity: int
    colour_source: int
    depth_range: tuple[float, float]
    lod_top_level: float | None = None
    subsets: SubsetUniforms | None = None
    fov_per_splat: bool | None = None


@dataclass(frozen=True)
class ChunkUniforms:
    """The scene chunk a dispatch covers: its first row and its live rows."""

    chunk_offset: int
    chunk_count: int


@dataclass(frozen=True)
class ListedChunkUniforms:
    """The ROW_LIST variant's dispatch: the chunk's listed rows and where they begin."""

    chunk_offset: int
    chunk_count: int
    row_list_start: int


class PreprocessPass:
    """Runs preprocess.comp over every scene chunk, appending into the frame buffers.

    Frames with a level-of-detail cut run its LOD variant, which blends each drawn node towards
    its parent by the weight the cut pass wrote; foveated frames drawing the scene's nested
    subsets run the FOVEA variant (either or both; compiled on first use).
    """

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.shader = compute_shader(ctx, "preprocess.comp")
        self._variants: dict[tuple[bool, bool, bool], moderngl.ComputeShader] = {}
        self._row_list: moderngl.Buffer | None = None  # the ROW_LIST variant's rows (grown)

    def _program(self, lod: bool, fovea: bool, listed: bool = False) -> moderngl.ComputeShader:
        if not (lod or fovea or listed):
            return self.shader
        key = (lod, fovea, listed)
        if key not in self._variants:
            defines = {"LOD": 1} if lod else {}
            defines.update({"FOVEA": 1} if fovea else {})
            defines.update({"ROW_LIST": 1} if listed else {})
            self._variants[key] = compute_shader(self.ctx, "preprocess.comp", defines)
        return self._variants[key]

    def _write_row_list(self, rows: np.ndarray) -> None:
        """Upload the listed rows ([n] uint32) into the row-list buffer, grown as needed."""
        size = max(rows.nbytes, 4)
        if self._row_list is None or self._row_list.size < size:
            if self._row_list is not None:
                self._row_list.release()
            self._row_list = self.ctx.buffer(reserve=max(size, 4096))
        if rows.size:
            self._row_list.write(rows)
        self._row_list.bind_to_storage_buffer(BINDING_ROW_LIST)

    def run(
        self,
        scene: GpuScene,
        frame: FrameBuffers,
        view: FrameView,
        settings: RenderSettings,
        fov_per_splat: bool = True,
        rows: np.ndarray | None = None,
    ) -> None:
        """Append every visible Gaussian of `scene` in `view` to `frame`.

        The view says which rows are drawn and which flags cull, whether the LOD cut ran (then
        the LOD variant blends each drawn node towards its parent by the cut's weight t) and
        whether the scene's nested subsets are drawn (the FOVEA variant). Its `whole` camera
        bounds the guard band and the clamp of the projection's Jacobian, so an inset's pixels
        are the whole image's.

        Args:
            scene: the Gaussians.
            frame: the buffers appended to.
            view: the image and what the frame decided for it.
            settings: how splats are made.
            fov_per_splat: with subsets, weigh each splat's opacity (else the raster weighs
                per pixel and preprocess only drops splats of weight 0).
            rows: [n] ascending uint32 rows to run over instead of every row of the view
                (the rows an LOD cut made on the host draws); the others are culled anyway.
        """
        camera, whole, lod = view.camera, view.whole, view.lod is not None
        shader = self._program(lod, view.subsets is not None, rows is not None)
        subsets = None
        if view.subsets is not None:
            assert scene.subsets is not None, "foveated subsets need the scene's levels"
            subsets = SubsetUniforms(view.subsets, scene.subsets.rows)
            scene.subsets.bind()
        near = scene.near_plane(settings)
        uniforms = PreprocessUniforms(
            camera=CameraUniforms.of(camera),
            tan_half_fov=(whole.width / (2.0 * whole.fx), whole.height / (2.0 * whole.fy)),
            near_plane=near,
            guard_band=settings.guard_band,
            splat_scale=settings.splat_scale,
            sh_degree=min(settings.sh_degree, scene.sh_degree),
            sh_coeffs=scene.sh_coeffs,
            antialias=settings.antialias,
            raw_parameters=scene.raw,
            flag_mask=view.flag_mask,
            capacity=frame.capacity,
            colour_source=colour_source(settings),
            depth_range=depth_range(camera, scene.bounds, near),
            lod_top_level=float(scene.lod_levels) if lod else None,
            subsets=subsets,
            fov_per_splat=fov_per_splat if subsets is not None else None,
        )
        set_uniforms(shader, uniforms)
        frame.bind()
        if rows is not None:
            rows = np.ascontiguousarray(rows, np.uint32)
            self._write_row_list(rows)
        for chunk, count in scene.live_chunks(view.rows):
            chunk.bind()
            if lod:
                chunk.buffers[RowBuffer.LOD_BLEND].bind_to_storage_buffer(BINDING_LOD_BLEND)
                chunk.buffers[RowBuffer.LOD_PARENT_SH].bind_to_storage_buffer(BINDING_LOD_PARENT_SH)
            if rows is None:
                set_uniforms(shader, ChunkUniforms(chunk_offset=chunk.offset, chunk_count=count))
            else:
                start, stop = np.searchsorted(rows, (chunk.offset, chunk.offset + count))
                count = int(stop - start)
                set_uniforms(shader, ListedChunkUniforms(chunk.offset, count, int(start)))
                if count == 0:
                    continue
            shader.run(group_x=(count + WORKGROUP_SIZE - 1) // WORKGROUP_SIZE)
        self.ctx.memory_barrier()

    def release(self) -> None:
        """Free the programs."""
        self.shader.release()
        for shader in self._variants.values():
            shader.release()
        if self._row_list is not None:
            self._row_list.release()
