"""The level-of-detail cut pass (shaders/lod_cut.comp): which LOD nodes a frame draws.

Runs before preprocess when a frame has an `LodCut` and its scene LOD nodes
(`GpuScene.lod_nodes`, attached by viewer/features/lod_gpu.py). Per node it writes
`FLAG_LOD_CULLED` into `gpu_flags` and its blend weight t into the node's `lod_blend` row
(`RowBuffer`); the
budget cut first bins every inner node's projected size (weighted by children - 1) and picks
tau in one workgroup, all on the GPU. Nothing per node comes back to the CPU: the frame's tau
and its drawn counts per level wait in a small state buffer that the renderer reads a frame late.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.fovea import FoveaUniforms
from viewer.render.frame_inputs import LodCut
from viewer.render.gpu_scene import GpuScene, RowBuffer
from viewer.render.layout import (
    BINDING_GPU_FLAGS,
    BINDING_LOD_BLEND,
    BINDING_LOD_CUT,
    BINDING_LOD_HISTOGRAM,
    BINDING_LOD_STATE,
    LOD_BINS,
    LOD_BINS_PER_OCTAVE,
    LOD_LOG2_MIN,
    LOD_MAX_LEVELS,
    LOD_STATE_BUDGET_COUNT,
    LOD_STATE_DRAWN,
    LOD_STATE_LEVELS,
    LOD_STATE_TAU,
    LOD_STATE_WORDS,
    WORKGROUP_SIZE,
)
from viewer.render.programs import compute_shader, set_uniforms


def bin_edge(index: int) -> float:
    """The smallest projected size (pixels) of histogram bin `index` (inf for LOD_BINS)."""
    if index >= LOD_BINS:
        return math.inf
    return float(np.float32(2.0 ** (LOD_LOG2_MIN + index / LOD_BINS_PER_OCTAVE)))


@dataclass(frozen=True)
class LodCutStats:
    """What one frame's cut did (read back from the GPU's state buffer).

    Attributes:
        tau: the threshold used, pixels (the budget cut's is a bin edge; inf: only the nodes
            holding the camera are expanded).
        drawn: nodes drawn.
        levels: nodes drawn per level (index 0: the scene's Gaussians), trailing zeros cut.
        budget_count: nodes the budget cut's histogram promised (0 in the tau cut).
    """

    tau: float
    drawn: int
    levels: tuple[int, ...]
    budget_count: int = 0

    @classmethod
    def from_words(cls, words: np.ndarray) -> LodCutStats:
        """Decode [LOD_STATE_WORDS] uint32 of the state buffer."""
        words = np.asarray(words, np.uint32)
        levels = words[LOD_STATE_LEVELS : LOD_STATE_LEVELS + LOD_MAX_LEVELS]
        used = int(np.flatnonzero(levels)[-1]) + 1 if levels.any() else 0
        return cls(
            tau=float(words[LOD_STATE_TAU : LOD_STATE_TAU + 1].view(np.float32)[0]),
            drawn=int(words[LOD_STATE_DRAWN]),
            levels=tuple(int(v) for v in levels[:used]),
            budget_count=int(words[LOD_STATE_BUDGET_COUNT]),
        )


@dataclass(frozen=True)
class LodViewUniforms:
    """What the histogram and cut stages of lod_cut.comp know of the view.

    Attributes:
        camera_position: world position of the camera centre.
        focal: max(fx, fy) of the image rendered.
        fov_lod: whether the cut follows a fovea (the fields below are then set).
        fovea: the frame's fovea for the image rendered.
        fov_tau_scale: tau's growth per level beyond level 1.
        world_to_camera: [4, 4] float32 row-major, to project node spheres for their level.
        intrinsics: fx, fy, cx, cy of the image rendered.
    """

    camera_position: tuple[float, float, float]
    focal: float
    fov_lod: bool
    fovea: FoveaUniforms | None = None
    fov_tau_scale: float | None = None
    world_to_camera: np.ndarray | None = None
    intrinsics: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class LodSelectUniforms:
    """The select stage: the most nodes the budget cut may draw."""

    budget: int


@dataclass(frozen=True)
class LodCutUniforms:
    """The cut stage: the view, whether tau comes from the budget, the blend width."""

    view: LodViewUniforms
    use_budget: bool
    blend_width: float


@dataclass(frozen=True)
class LodChunkUniforms:
    """The live rows of the scene chunk a dispatch of the histogram or cut stage covers."""

    chunk_count: int


class LodCutPass:
    """The three stages of lod_cut.comp and the frame's state and histogram buffers."""

    def __init__(self, ctx: moderngl.Context, shared_counts: bool = True) -> None:
        """Compile the stages.

        Args:
            ctx: the GL context.
            shared_counts: sum the drawn counts per workgroup before the global atomics (GPUs);
                False for software GL, where barriers cost more than the atomics.
        """
        self.ctx = ctx
        self.histogram_stage = compute_shader(ctx, "lod_cut.comp", {"STAGE": 1})
        self.select_stage = compute_shader(ctx, "lod_cut.comp", {"STAGE": 2})
        counts = int(shared_counts)
        self.cut_stage = compute_shader(ctx, "lod_cut.comp", {"STAGE": 3, "SHARED_COUNTS": counts})
        self.state = ctx.buffer(reserve=LOD_STATE_WORDS * 4)
        self.histogram = ctx.buffer(reserve=(LOD_BINS + 1) * 4)

    def run(
        self,
        scene: GpuScene,
        camera: Camera,
        cut: LodCut,
        fovea: FoveaUniforms | None = None,
        tau_scale: float = 1.0,
    ) -> None:
        """Decide every node of `scene` for `camera` (the image as rendered, render scale in).

        With `fovea` (the frame's fovea for `camera`) the cut follows the gaze: the fovea
        draws the scene's own Gaussians, tau ramps up to `cut.tau` across level 1's border and
        grows by `tau_scale` per level beyond (tau x min(l, 1) x tau_scale^max(l - 1, 0) at a
        node whose disc reaches level l at lowest).
        """
        words = np.zeros(LOD_STATE_WORDS, np.uint32)
        words[LOD_STATE_TAU] = np.float32(cut.tau).view(np.uint32)
        self.state.write(words.tobytes())
        self.state.bind_to_storage_buffer(BINDING_LOD_STATE)
        self.histogram.bind_to_storage_buffer(BINDING_LOD_HISTOGRAM)
        x, y, z = (float(v) for v in camera.position)
        focal = float(max(camera.fx, camera.fy))
        view = LodViewUniforms(camera_position=(x, y, z), focal=focal, fov_lod=fovea is not None)
        if fovea is not None:
            view = dataclasses.replace(
                view,
                fovea=fovea,
                fov_tau_scale=float(tau_scale),
                world_to_camera=camera.world_to_camera.astype(np.float32),
                intrinsics=(camera.fx, camera.fy, camera.cx, camera.cy),
            )
        chunks = scene.live_chunks()
        if cut.budget > 0:
            self.histogram.clear()
            set_uniforms(self.histogram_stage, view)
            for chunk, count in chunks:
                chunk.buffers[RowBuffer.LOD_CUT].bind_to_storage_buffer(BINDING_LOD_CUT)
                set_uniforms(self.histogram_stage, LodChunkUniforms(count))
                self.histogram_stage.run(group_x=_groups(count))
            self.ctx.memory_barrier()
            set_uniforms(self.select_stage, LodSelectUniforms(min(cut.budget, 2**32 - 1)))
            self.select_stage.run(1)
            self.ctx.memory_barrier()
        set_uniforms(self.cut_stage, LodCutUniforms(view, cut.budget > 0, float(cut.blend_width)))
        for chunk, count in chunks:
            chunk.buffers[RowBuffer.LOD_CUT].bind_to_storage_buffer(BINDING_LOD_CUT)
            chunk.buffers[RowBuffer.LOD_BLEND].bind_to_storage_buffer(BINDING_LOD_BLEND)
            chunk.buffers[RowBuffer.GPU_FLAGS].bind_to_storage_buffer(BINDING_GPU_FLAGS)
            set_uniforms(self.cut_stage, LodChunkUniforms(count))
            self.cut_stage.run(group_x=_groups(count))
        self.ctx.memory_barrier()

    def release(self) -> None:
        """Free the GL objects."""
        for obj in (self.histogram_stage, self.select_stage, self.cut_stage):
            obj.release()
        self.state.release()
        self.histogram.release()


def _groups(count: int) -> int:
    return max(1, (count + WORKGROUP_SIZE - 1) // WORKGROUP_SIZE)
