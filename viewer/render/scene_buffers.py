"""Per-Gaussian scene data in SSBOs, split in chunks that fit the driver's largest SSBO block."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl
import numpy as np

from viewer.render.layout import (
    BINDING_FLAGS,
    BINDING_HEAT,
    BINDING_MEANS,
    BINDING_OPACITIES,
    BINDING_ROTATIONS,
    BINDING_SCALES,
    BINDING_SH,
    FLAG_BYTES,
    GAUSSIAN_VEC4_BYTES,
)
from viewer.scene import GaussianScene


def _vec4(array: np.ndarray) -> np.ndarray:
    """[n, 3 or 4] -> [n, 4] float32 (xyz padded with 0)."""
    out = np.zeros((array.shape[0], 4), dtype=np.float32)
    out[:, : array.shape[1]] = array
    return out


@dataclass
class SceneChunk:
    """Gaussians [offset, offset + count) of the scene, one buffer per attribute."""

    offset: int
    count: int
    means: moderngl.Buffer  # [count, 4] float32, xyz and 0
    opacities: moderngl.Buffer  # [count] float32
    scales: moderngl.Buffer  # [count, 4] float32, xyz and 0
    rotations: moderngl.Buffer  # [count, 4] float32, wxyz
    sh: moderngl.Buffer  # [count, K, 3] float32
    flags: moderngl.Buffer  # [count] uint32, layout.FLAG_* bits
    heat: moderngl.Buffer  # [count] float32 in [0, 1], what the heatmap mode colours by

    def bind(self) -> None:
        """Bind for the preprocess pass."""
        self.means.bind_to_storage_buffer(BINDING_MEANS)
        self.scales.bind_to_storage_buffer(BINDING_SCALES)
        self.rotations.bind_to_storage_buffer(BINDING_ROTATIONS)
        self.sh.bind_to_storage_buffer(BINDING_SH)
        self.flags.bind_to_storage_buffer(BINDING_FLAGS)
        self.opacities.bind_to_storage_buffer(BINDING_OPACITIES)
        self.heat.bind_to_storage_buffer(BINDING_HEAT)

    @property
    def buffers(self) -> tuple[moderngl.Buffer, ...]:
        """Every buffer of the chunk."""
        return (
            self.means, self.opacities, self.scales, self.rotations, self.sh, self.flags, self.heat
        )  # fmt: skip


class SceneBuffers:
    """A scene's Gaussians on the GPU, uploaded once, updated in place.

    Features (pruning, LOD, foveation, crop) write only the per-Gaussian `flags` (and the
    heatmap mode's `heat` values); live training rewrites parameter ranges with `write`.

    Attributes:
        bounds: ([3] lo, [3] hi) float64 robust bounds of the centres (the depth mode's range).
    """

    def __init__(
        self,
        ctx: moderngl.Context,
        count: int,
        sh_coeffs: int,
        max_block_bytes: int,
        max_chunk_rows: int,
    ) -> None:
        """Allocate buffers for `count` Gaussians with `sh_coeffs` SH coefficients each.

        A chunk holds at most `max_chunk_rows` Gaussians (one dispatch) and no buffer of it
        exceeds `max_block_bytes` (the driver's largest SSBO block).
        """
        if count <= 0:
            raise ValueError("a scene on the GPU needs at least one Gaussian")
        self.count = count
        self.sh_coeffs = sh_coeffs
        self.bounds = (-np.ones(3), np.ones(3))
        widest = max(GAUSSIAN_VEC4_BYTES, sh_coeffs * 3 * 4)
        self.chunk_size = max(1, min(count, max_block_bytes // widest, max_chunk_rows))
        self.chunks: list[SceneChunk] = []
        for offset in range(0, count, self.chunk_size):
            n = min(self.chunk_size, count - offset)
            self.chunks.append(
                SceneChunk(
                    offset,
                    n,
                    ctx.buffer(reserve=n * GAUSSIAN_VEC4_BYTES),
                    ctx.buffer(reserve=n * 4),
                    ctx.buffer(reserve=n * GAUSSIAN_VEC4_BYTES),
                    ctx.buffer(reserve=n * GAUSSIAN_VEC4_BYTES),
                    ctx.buffer(reserve=n * sh_coeffs * 12),
                    ctx.buffer(reserve=n * FLAG_BYTES),
                    ctx.buffer(reserve=n * 4),
                )
            )

    @classmethod
    def from_scene(
        cls, ctx: moderngl.Context, scene: GaussianScene, max_block_bytes: int, max_chunk_rows: int
    ) -> SceneBuffers:
        """Upload every array of `scene`; flags start cleared."""
        buffers = cls(ctx, scene.count, scene.sh.shape[1], max_block_bytes, max_chunk_rows)
        buffers.write(
            0,
            means=scene.means,
            opacities=scene.opacities,
            scales=scene.scales,
            rotations=scene.rotations,
            sh=scene.sh,
        )
        buffers.write_flags(np.zeros(scene.count, dtype=np.uint32))
        buffers.write_heat(np.zeros(scene.count, dtype=np.float32))
        lo, hi = scene.robust_bounds()
        buffers.bounds = (lo.astype(np.float64), hi.astype(np.float64))
        return buffers

    @property
    def nbytes(self) -> int:
        """GPU memory held."""
        return sum(b.size for chunk in self.chunks for b in chunk.buffers)

    def write(
        self,
        start: int,
        *,
        means: np.ndarray | None = None,
        opacities: np.ndarray | None = None,
        scales: np.ndarray | None = None,
        rotations: np.ndarray | None = None,
        sh: np.ndarray | None = None,
    ) -> None:
        """Overwrite Gaussians [start, start + len) of the given attributes (activated values).

        Args:
            means: [n, 3] float32. opacities: [n] float32. scales: [n, 3] float32 (activated).
            rotations: [n, 4] float32 unit wxyz. sh: [n, K, 3] float32 with this scene's K.
        """
        packed = {
            "means": None if means is None else _vec4(means),
            "opacities": None if opacities is None else np.asarray(opacities, np.float32),
            "scales": None if scales is None else _vec4(scales),
            "rotations": None if rotations is None else np.asarray(rotations, np.float32),
            "sh": None if sh is None else np.asarray(sh, np.float32).reshape(len(sh), -1),
        }
        for name, array in packed.items():
            if array is not None:
                self._write_rows(name, start, array)

    def write_flags(self, flags: np.ndarray, start: int = 0) -> None:
        """Overwrite per-Gaussian flags [start, start + len): [n] uint32 of layout.FLAG_* bits."""
        self._write_rows("flags", start, np.asarray(flags, dtype=np.uint32))

    def write_heat(self, values: np.ndarray, start: int = 0) -> None:
        """Overwrite the heatmap mode's values [start, start + len): [n] float32 in [0, 1]."""
        self._write_rows("heat", start, np.asarray(values, dtype=np.float32))

    def _write_rows(self, name: str, start: int, rows: np.ndarray) -> None:
        stop = start + rows.shape[0]
        if start < 0 or stop > self.count:
            raise IndexError(f"rows [{start}, {stop}) outside the scene's {self.count} Gaussians")
        rows = np.ascontiguousarray(rows)
        row_bytes = rows[:1].nbytes if rows.shape[0] else 0
        for chunk in self.chunks:
            lo, hi = max(start, chunk.offset), min(stop, chunk.offset + chunk.count)
            if lo < hi:
                getattr(chunk, name).write(
                    rows[lo - start : hi - start], offset=(lo - chunk.offset) * row_bytes
                )

    def release(self) -> None:
        """Free the GPU memory."""
        for chunk in self.chunks:
            for buffer in chunk.buffers:
                buffer.release()
        self.chunks = []
