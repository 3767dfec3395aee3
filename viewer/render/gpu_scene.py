"""The scene on the GPU: per-Gaussian buffers with a capacity, a live count and a version.

Who writes what (docs/design_log.md, "Buffer ownership"):
    parameters  means, scales, rotations, opacities, sh: the scene's loader or a live trainer
                (`write`, whole or in ranges, from numpy arrays or torch tensors);
    flags       the CPU's per-Gaussian masks (crop box, pruning, selection: `write_flags`);
    heat        the heatmap mode's per-Gaussian values (`write_heat`);
    gpu_flags   what GPU passes decide every frame (an LOD cut, a foveation level); the CPU only
                clears them. The preprocess pass reads flags and gpu_flags together.
    extras      named per-row buffers a feature adds (`add_extra`): the LOD nodes' cut and blend
                data (viewer/features/lod_gpu.py), chunk-aligned with the rest.
    levels      foveation's nested subsets (`write_levels`): per row the number of levels that
                keep it, uint8, four to a word in one buffer indexed by the global row (the
                tiles passes reach rows by global index, which chunked buffers cannot serve).

Level of detail: the merged nodes of an LOD tree may follow the scene's Gaussians as rows
[leaves, count) (`lod_nodes` of them). Frames without an LOD cut draw the leaves only.

Buffers are split in chunks of at most `chunk_rows` Gaussians, so that no buffer exceeds the
driver's largest SSBO block and one dispatch covers a chunk. Growing keeps the filled chunks and
appends new ones, so the renderer and every binding stay valid.

Parameters are stored activated (scale = exp(log-scale), opacity = sigmoid(logit), unit
quaternion) or, in the raw mode, exactly as a trainer holds them; the preprocess pass activates
raw ones. Every write goes through `HostUpload.copy`: the seam where the CUDA-GL interop copy of
CUDA tensors goes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import moderngl
import numpy as np

from viewer.render.context import DeviceInfo
from viewer.render.fovea import pack_levels
from viewer.render.layout import (
    BINDING_FLAGS,
    BINDING_GPU_FLAGS,
    BINDING_HEAT,
    BINDING_MEANS,
    BINDING_OPACITIES,
    BINDING_ROTATIONS,
    BINDING_SCALES,
    BINDING_SH,
    CPU_FLAGS,
    WORKGROUP_SIZE,
)
from viewer.scene import SH_COEFFS_FOR_DEGREE, GaussianScene, fitted_near_plane
from viewer.settings import RenderSettings

PARAMETERS = ("means", "scales", "rotations", "opacities", "sh")
MAX_SH_COEFFS = SH_COEFFS_FOR_DEGREE[3]
GROWTH = 1.5  # capacity factor when a write needs more room


def _row_floats(name: str, sh_coeffs: int) -> int:
    """float32 values per Gaussian in buffer `name` (means, scales, rotations: one vec4)."""
    return {"opacities": 1, "sh": sh_coeffs * 3, "flags": 1, "gpu_flags": 1, "heat": 1}.get(name, 4)


BUFFERS = (*PARAMETERS, "flags", "gpu_flags", "heat")


class Upload(Protocol):
    """Copies packed rows (numpy array or torch tensor) into a GL buffer at a byte offset.

    `copy` may queue the work until `flush`, which `GpuScene.write` calls before returning (the
    interop upload maps every buffer written once); `forget` comes before a buffer is freed.
    """

    name: str

    def copy(self, buffer: moderngl.Buffer, offset: int, rows: Any) -> None:
        """Write `rows` (C-contiguous, already in the buffer's layout) at byte `offset`."""
        ...

    def flush(self) -> None:
        """Finish every queued copy before GL reads the buffers."""
        ...

    def forget(self, buffer: moderngl.Buffer) -> None:
        """Drop what is kept about `buffer`, which is about to be freed."""
        ...


class HostUpload:
    """Copies through host memory: numpy arrays as they are, torch tensors via the CPU."""

    name = "host"

    def copy(self, buffer: moderngl.Buffer, offset: int, rows: Any) -> None:
        """Write `rows` at byte `offset` of `buffer` (glBufferSubData)."""
        buffer.write(_host_array(rows), offset=offset)

    def flush(self) -> None:
        """Nothing is queued."""

    def forget(self, buffer: moderngl.Buffer) -> None:
        """Nothing is kept."""


def _is_tensor(array: Any) -> bool:
    return type(array).__module__.startswith("torch")


def _host_array(rows: Any) -> np.ndarray:
    """A C-contiguous numpy array of `rows` (a torch tensor is moved to the CPU)."""
    if _is_tensor(rows):
        rows = rows.detach().to("cpu").contiguous().numpy()
    return np.ascontiguousarray(rows)


def _pack(name: str, values: Any, sh_coeffs: int) -> Any:
    """Rows of one attribute in its buffer's layout, on the device they came from.

    [n, 3] means/scales -> [n, 4] (w = 0); sh [n, K, 3] -> [n, K * 3]; others as float32.
    Torch tensors stay torch tensors (and on their device), numpy arrays stay numpy.
    """
    width = _row_floats(name, sh_coeffs)
    if _is_tensor(values):
        import torch

        values = values.detach().to(torch.float32)
        rows = values.reshape(values.shape[0], -1)
        if rows.shape[1] == 3 and width == 4:
            rows = torch.nn.functional.pad(rows, (0, 1))
    else:
        values = np.asarray(values, dtype=np.float32)
        rows = values.reshape(values.shape[0], -1)
        if rows.shape[1] == 3 and width == 4:
            rows = np.concatenate([rows, np.zeros((rows.shape[0], 1), np.float32)], axis=1)
    if rows.shape[1] != width:
        raise ValueError(f"{name}: rows of {rows.shape[1]} values, expected {width}")
    return rows.reshape(-1) if width == 1 else rows


@dataclass
class SceneChunk:
    """Gaussians [offset, offset + capacity) of the scene, one buffer per attribute.

    Attributes:
        buffers: by name (BUFFERS): means [cap, 4] f32 (xyz, 0); scales [cap, 4] f32 (xyz, 0);
            rotations [cap, 4] f32 wxyz; opacities [cap] f32; sh [cap, K, 3] f32;
            flags, gpu_flags [cap] uint32 layout.FLAG_* bits; heat [cap] f32 in [0, 1].
    """

    offset: int
    capacity: int
    buffers: dict[str, moderngl.Buffer]

    def bind(self) -> None:
        """Bind every buffer at its binding point (for the preprocess pass)."""
        bindings = {
            "means": BINDING_MEANS, "scales": BINDING_SCALES, "rotations": BINDING_ROTATIONS,
            "opacities": BINDING_OPACITIES, "sh": BINDING_SH, "flags": BINDING_FLAGS,
            "gpu_flags": BINDING_GPU_FLAGS, "heat": BINDING_HEAT,
        }  # fmt: skip
        for name, binding in bindings.items():
            self.buffers[name].bind_to_storage_buffer(binding)

    def release(self) -> None:
        """Free the buffers."""
        for buffer in self.buffers.values():
            buffer.release()


class GpuScene:
    """A scene's Gaussians on the GPU; passed to every `SplatRenderer` call that draws it.

    Attributes:
        count: live Gaussians (the passes run over [0, count)).
        capacity: Gaussians the buffers hold without growing.
        sh_degree: SH degree stored per Gaussian (0-3).
        raw: whether parameters are stored pre-activation (log-scales, opacity logits,
            unnormalised quaternions).
        version: changes on every write (any buffer): caches of the image key on it; unique
            across every GpuScene of the process.
        bounds: ([3] lo, [3] hi) float64 robust bounds of the centres (the depth mode's range).
        upload: how rows reach the buffers.
    """

    _versions: ClassVar[itertools.count] = itertools.count(1)

    def __init__(
        self,
        ctx: moderngl.Context,
        device: DeviceInfo,
        capacity: int,
        sh_degree: int = 0,
        *,
        raw: bool = False,
    ) -> None:
        self.ctx = ctx
        self.raw = raw
        self.count = 0
        self.capacity = 0
        self.sh_degree = sh_degree
        self.version = next(self._versions)
        self.bounds = (-np.ones(3), np.ones(3))
        self.upload: Upload = HostUpload()
        widest = max(16, MAX_SH_COEFFS * 12)
        self.chunk_rows = max(1, min(device.max_ssbo_bytes // widest, _max_dispatch_rows(device)))
        self.chunks: list[SceneChunk] = []
        self.extras: dict[str, int] = {}  # extra per-row buffers: name -> 4-byte values per row
        self.lod_nodes = 0  # merged LOD nodes after the leaves (rows leaves .. count - 1)
        self.lod_levels = 0  # their deepest level (leaves are level 0)
        self.fov_levels: moderngl.Buffer | None = None  # write_levels: 4 uint8 per word
        self.fov_level_rows = 0  # rows it holds (later rows: kept at every level)
        self.reserve(max(capacity, 1))

    @classmethod
    def from_scene(
        cls, ctx: moderngl.Context, scene: GaussianScene, device: DeviceInfo | None = None
    ) -> GpuScene:
        """Upload every array of `scene` (activated); flags start cleared."""
        gpu = cls(ctx, device or DeviceInfo.of(ctx), scene.count, scene.sh_degree)
        gpu.write(
            means=scene.means,
            scales=scene.scales,
            rotations=scene.rotations,
            opacities=scene.opacities,
            sh=scene.sh,
        )
        lo, hi = scene.robust_bounds()
        gpu.bounds = (lo.astype(np.float64), hi.astype(np.float64))
        return gpu

    @property
    def fitted_near_plane(self) -> float:
        """The near plane that `RenderSettings.near_plane` 0 stands for (from `bounds`)."""
        return fitted_near_plane(*self.bounds)

    def near_plane(self, settings: RenderSettings) -> float:
        """The near plane a frame of this scene with `settings` culls at."""
        return settings.near_plane or self.fitted_near_plane

    @property
    def leaves(self) -> int:
        """The scene's own Gaussians: rows [0, leaves); LOD nodes, if any, follow them."""
        return self.count - self.lod_nodes

    @property
    def sh_coeffs(self) -> int:
        """SH coefficients stored per Gaussian, (degree + 1)^2."""
        return SH_COEFFS_FOR_DEGREE[self.sh_degree]

    @property
    def nbytes(self) -> int:
        """GPU memory held."""
        levels = self.fov_levels.size if self.fov_levels is not None else 0
        return levels + sum(b.size for chunk in self.chunks for b in chunk.buffers.values())

    # -- size ------------------------------------------------------------------------------------

    def reserve(self, capacity: int) -> None:
        """Room for at least `capacity` Gaussians; contents and count are kept."""
        if capacity <= self.capacity:
            return
        if self.chunks and self.chunks[-1].capacity < self.chunk_rows:
            last = self.chunks.pop()
            room = min(self.chunk_rows, capacity - last.offset)
            self.chunks.append(self._moved(last, room))
        while self._allocated() < capacity:
            offset = self._allocated()
            rows = min(self.chunk_rows, capacity - offset)
            self.chunks.append(self._new_chunk(offset, rows))
        self.capacity = self._allocated()
        self._touch()

    def resize(self, count: int) -> None:
        """Set the live count, growing the buffers when needed.

        New rows are undefined until written, but their flags are cleared.
        """
        if count < 0:
            raise ValueError(f"a scene cannot hold {count} Gaussians")
        if count > self.capacity:
            self.reserve(max(count, int(self.capacity * GROWTH)))
        if count > self.count:
            self._fill("flags", self.count, count)
            self._fill("gpu_flags", self.count, count)
        self.count = count
        self._touch()

    def set_sh_degree(self, degree: int) -> None:
        """Store `degree` SH per Gaussian from now on; the SH must be written again."""
        if degree not in SH_COEFFS_FOR_DEGREE:
            raise ValueError(f"SH degree must be 0 to 3, got {degree}")
        if degree == self.sh_degree:
            return
        self.drop_lod()  # its parent SH copies have the old width
        self.sh_degree = degree
        for chunk in self.chunks:
            self.upload.forget(chunk.buffers["sh"])
            chunk.buffers["sh"].release()
            chunk.buffers["sh"] = self.ctx.buffer(reserve=chunk.capacity * self.sh_coeffs * 12)
            chunk.buffers["sh"].clear()
        self._touch()

    # -- writes ----------------------------------------------------------------------------------

    def write(self, start: int = 0, **parameters: Any) -> None:
        """Overwrite Gaussians [start, start + n) of the given parameters.

        The count grows to cover them.

        Args:
            start: first Gaussian written.
            parameters: any of means [n, 3], scales [n, 3], rotations [n, 4] (wxyz),
                opacities [n], sh [n, K, 3] with K = `sh_coeffs`: numpy arrays or torch
                tensors (CPU or CUDA), activated unless the scene is `raw`.
        """
        unknown = set(parameters) - set(PARAMETERS)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)} (known: {PARAMETERS})")
        rows = {name: _pack(name, v, self.sh_coeffs) for name, v in parameters.items()}
        lengths = {r.shape[0] for r in rows.values()}
        if len(lengths) > 1:
            raise ValueError(f"parameters of different lengths {sorted(lengths)}")
        if not rows:
            return
        stop = start + lengths.pop()
        if start < 0 or start > self.count:
            raise IndexError(f"write at {start} leaves a gap after the {self.count} Gaussians")
        if stop > self.count:
            self.resize(stop)
        for name, packed in rows.items():
            self._write_rows(name, start, packed)
        self.upload.flush()
        self._touch()

    def write_flags(self, flags: np.ndarray, start: int = 0) -> None:
        """Overwrite the CPU's flags [start, start + n): [n] uint32 of layout.CPU_FLAGS bits."""
        flags = np.asarray(flags, dtype=np.uint32)
        if (flags & ~np.uint32(CPU_FLAGS)).any():
            raise ValueError("flags hold bits that GPU passes own (see layout.GPU_FLAGS)")
        self._write_rows("flags", start, flags, self.count)
        self._touch()

    def write_heat(self, values: np.ndarray, start: int = 0) -> None:
        """Overwrite the heatmap mode's values [start, start + n): [n] float32 in [0, 1]."""
        self._write_rows("heat", start, np.asarray(values, dtype=np.float32), self.count)
        self._touch()

    def write_levels(self, stored: np.ndarray | None) -> None:
        """Foveation's subsets: [n] uint8 per row, the levels that keep it (None: drop them).

        A row keeps levels 0 .. b - 1 for a value b (0: none, 255: every level); rows at or past
        n keep every level. The rows are the scene's, LOD nodes included when attached.
        """
        if self.fov_levels is not None:
            self.fov_levels.release()
            self.fov_levels, self.fov_level_rows = None, 0
        if stored is not None:
            words = pack_levels(stored)
            self.fov_levels = self.ctx.buffer(words.tobytes())
            self.fov_level_rows = int(np.asarray(stored).shape[0])
        self._touch()

    def read_levels(self) -> np.ndarray | None:
        """The stored levels ([fov_level_rows] uint8), or None (tests)."""
        if self.fov_levels is None:
            return None
        return np.frombuffer(self.fov_levels.read(), np.uint8)[: self.fov_level_rows].copy()

    def add_extra(self, name: str, width: int) -> None:
        """Give every chunk (and every chunk made later) a per-row buffer `name`, zeroed.

        Args:
            name: the buffer's name in `SceneChunk.buffers`.
            width: 4-byte values per row.
        """
        if name in BUFFERS:
            raise ValueError(f"{name!r} is a standard buffer")
        self.drop_extra(name)
        self.extras[name] = width
        for chunk in self.chunks:
            chunk.buffers[name] = self.ctx.buffer(reserve=chunk.capacity * width * 4)
            chunk.buffers[name].clear()
        self._touch()

    def drop_extra(self, name: str) -> None:
        """Free the extra buffer `name` in every chunk (nothing if there is none)."""
        if self.extras.pop(name, None) is None:
            return
        for chunk in self.chunks:
            buffer = chunk.buffers.pop(name)
            self.upload.forget(buffer)
            buffer.release()
        self._touch()

    def write_extra(self, name: str, rows: np.ndarray, start: int = 0) -> None:
        """Overwrite rows [start, start + n) of extra buffer `name`: [n, width] or [n] 4-byte."""
        if name not in self.extras:
            raise KeyError(f"no extra buffer {name!r} (add_extra first)")
        rows = np.ascontiguousarray(rows)
        stop = start + rows.shape[0]
        if start < 0 or stop > self.count:
            raise IndexError(f"rows [{start}, {stop}) outside the scene's {self.count} rows")
        row_bytes = self.extras[name] * 4
        for chunk, lo, hi in self._spans(start, stop):  # host data: never through `upload`
            chunk.buffers[name].write(
                rows[lo - start : hi - start], offset=(lo - chunk.offset) * row_bytes
            )
        self._touch()

    def drop_lod(self) -> None:
        """Forget the LOD nodes: the count falls back to the leaves, the `lod_*` extras go.

        The GPU passes' bits are cleared (an old cut's FLAG_LOD_CULLED must not hide leaves).
        """
        if self.lod_nodes:
            self.count -= self.lod_nodes
            self.lod_nodes = self.lod_levels = 0
            self._fill("gpu_flags", 0, self.count)
        for name in [name for name in self.extras if name.startswith("lod_")]:
            self.drop_extra(name)
        self._touch()

    def read(self, name: str, start: int = 0, count: int | None = None) -> np.ndarray:
        """Rows [start, start + count) of one buffer as stored ([n, width] or [n]; tests)."""
        count = self.count - start if count is None else count
        width = self._width(name)
        dtype = np.uint32 if name in ("flags", "gpu_flags") else np.float32
        out = np.zeros((count, width), dtype)
        for chunk, lo, hi in self._spans(start, start + count):
            data = chunk.buffers[name].read(
                size=(hi - lo) * width * 4, offset=(lo - chunk.offset) * width * 4
            )
            out[lo - start : hi - start] = np.frombuffer(data, dtype).reshape(-1, width)
        return out[:, 0] if width == 1 else out

    # -- dispatch -------------------------------------------------------------------------------

    def live_chunks(self, rows: int | None = None) -> list[tuple[SceneChunk, int]]:
        """(chunk, live Gaussians in it) for every chunk holding some of the first `rows`.

        `rows` defaults to the count (every row, LOD nodes included).
        """
        rows = self.count if rows is None else min(rows, self.count)
        return [
            (chunk, min(chunk.capacity, rows - chunk.offset))
            for chunk in self.chunks
            if chunk.offset < rows
        ]

    def release(self) -> None:
        """Free the GPU memory."""
        for chunk in self.chunks:
            self._release_chunk(chunk)
        self.chunks = []
        self.capacity = self.count = 0
        if self.fov_levels is not None:
            self.fov_levels.release()
            self.fov_levels, self.fov_level_rows = None, 0

    # -- internals -------------------------------------------------------------------------------

    def _touch(self) -> None:
        self.version = next(self._versions)

    def _width(self, name: str) -> int:
        """4-byte values per row of buffer `name` (standard or extra)."""
        return self.extras.get(name) or _row_floats(name, self.sh_coeffs)

    def _allocated(self) -> int:
        return self.chunks[-1].offset + self.chunks[-1].capacity if self.chunks else 0

    def _new_chunk(self, offset: int, rows: int) -> SceneChunk:
        buffers = {
            name: self.ctx.buffer(reserve=rows * self._width(name) * 4)
            for name in (*BUFFERS, *self.extras)
        }
        for name in self.extras:
            buffers[name].clear()
        for name in ("flags", "gpu_flags"):
            buffers[name].clear()
        return SceneChunk(offset, rows, buffers)

    def _moved(self, chunk: SceneChunk, rows: int) -> SceneChunk:
        """A chunk of `rows` capacity at the same offset holding `chunk`'s rows (GPU copy)."""
        grown = self._new_chunk(chunk.offset, rows)
        for name, buffer in chunk.buffers.items():
            self.ctx.copy_buffer(grown.buffers[name], buffer, buffer.size)
        self._release_chunk(chunk)
        return grown

    def _release_chunk(self, chunk: SceneChunk) -> None:
        for buffer in chunk.buffers.values():
            self.upload.forget(buffer)
        chunk.release()

    def _spans(self, start: int, stop: int) -> list[tuple[SceneChunk, int, int]]:
        """(chunk, lo, hi) of the rows [start, stop) that lie in each chunk."""
        spans = []
        for chunk in self.chunks:
            lo, hi = max(start, chunk.offset), min(stop, chunk.offset + chunk.capacity)
            if lo < hi:
                spans.append((chunk, lo, hi))
        return spans

    def _write_rows(self, name: str, start: int, rows: Any, limit: int | None = None) -> None:
        stop = start + rows.shape[0]
        limit = self.capacity if limit is None else limit
        if start < 0 or stop > limit:
            raise IndexError(f"rows [{start}, {stop}) outside the scene's {limit} Gaussians")
        row_bytes = self._width(name) * 4
        for chunk, lo, hi in self._spans(start, stop):
            part = rows[lo - start : hi - start]
            self.upload.copy(chunk.buffers[name], (lo - chunk.offset) * row_bytes, part)

    def _fill(self, name: str, start: int, stop: int) -> None:
        """Zero rows [start, stop) of one buffer."""
        for chunk, lo, hi in self._spans(start, stop):
            row_bytes = self._width(name) * 4
            chunk.buffers[name].write(
                bytes((hi - lo) * row_bytes), offset=(lo - chunk.offset) * row_bytes
            )


def _max_dispatch_rows(device: DeviceInfo) -> int:
    """Gaussians one 1D dispatch of the preprocess pass covers."""
    return device.max_workgroups_x * WORKGROUP_SIZE
