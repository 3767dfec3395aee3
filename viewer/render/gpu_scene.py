"""The scene on the GPU: per-Gaussian buffers with a capacity, a live count and a version.

Who writes what (docs/design_log.md, "Buffer ownership"):
    parameters  means, scales, rotations, opacities, sh: the scene's loader or a live trainer
                (`write`, whole or in ranges, from numpy arrays or torch tensors);
    flags       the CPU's per-Gaussian masks (crop box, pruning, selection: `write_flags`);
    heat        the heatmap mode's per-Gaussian values (`write_heat`);
    gpu_flags   what GPU passes decide every frame (the LOD cut's FLAG_LOD_CULLED); the CPU
                only clears them. The preprocess pass reads flags and gpu_flags together.

Two features attach to a scene as objects of their own:
    lod         `SceneLod` (`attach_lod`): an LOD tree's merged nodes follow the scene's
                Gaussians as rows [leaves, count), and every row gets the LOD_BUFFERS (the
                cut's and the blend's per-node data, chunk-aligned with the rest). Frames without
                an LOD cut draw the leaves only.
    subsets     `SceneSubsets` (`write_levels`): foveation's nested subsets, per row the number
                of levels that keep it, uint8, four to a word in one buffer indexed by the
                global row (the tiles passes reach rows by global index, which chunked buffers
                cannot serve).

Buffers are split in chunks of at most `chunk_rows` Gaussians, so that no buffer exceeds the
driver's largest SSBO block and one dispatch covers a chunk. Growing keeps the filled chunks and
appends new ones, so the renderer and every binding stay valid.

Parameters are stored activated (scale = exp(log-scale), opacity = sigmoid(logit), unit
quaternion) or, in the raw mode, exactly as a trainer holds them; the preprocess pass activates
raw ones. Every parameter write goes through `upload` (`HostUpload`, or the CUDA-GL interop copy
of CUDA tensors: viewer/render/interop.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import moderngl
import numpy as np

from viewer.render.context import DeviceInfo
from viewer.render.fovea import pack_levels
from viewer.render.layout import (
    BINDING_FLAGS,
    BINDING_FOV_LEVELS,
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


class RowBuffer:
    """The names of a scene's per-row buffers (`SceneChunk.buffers`, `GpuScene.read`).

    The parameters' names are also the keywords of `GpuScene.write`. The LOD ones exist while
    an LOD tree is attached (layout.py has their rows; viewer/features/lod_gpu.py fills them).
    """

    MEANS = "means"
    SCALES = "scales"
    ROTATIONS = "rotations"
    OPACITIES = "opacities"
    SH = "sh"
    FLAGS = "flags"
    GPU_FLAGS = "gpu_flags"
    HEAT = "heat"
    LOD_CUT = "lod_cut"  # per node: its bounding sphere, its parent's, children and level
    LOD_BLEND = "lod_blend"  # per node: the parent's blend targets and this frame's weight t
    LOD_PARENT_SH = "lod_parent_sh"  # per node: the parent's SH


PARAMETERS = (RowBuffer.MEANS, RowBuffer.SCALES, RowBuffer.ROTATIONS, RowBuffer.OPACITIES,
              RowBuffer.SH)  # fmt: skip
BUFFERS = (*PARAMETERS, RowBuffer.FLAGS, RowBuffer.GPU_FLAGS, RowBuffer.HEAT)
LOD_BUFFERS = (RowBuffer.LOD_CUT, RowBuffer.LOD_BLEND, RowBuffer.LOD_PARENT_SH)
MAX_SH_COEFFS = SH_COEFFS_FOR_DEGREE[3]
GROWTH = 1.5  # capacity factor when a write needs more room
_BINDINGS = {  # where the preprocess pass reads each standard buffer
    RowBuffer.MEANS: BINDING_MEANS, RowBuffer.SCALES: BINDING_SCALES,
    RowBuffer.ROTATIONS: BINDING_ROTATIONS, RowBuffer.OPACITIES: BINDING_OPACITIES,
    RowBuffer.SH: BINDING_SH, RowBuffer.FLAGS: BINDING_FLAGS,
    RowBuffer.GPU_FLAGS: BINDING_GPU_FLAGS, RowBuffer.HEAT: BINDING_HEAT,
}  # fmt: skip


def _row_floats(name: str, sh_coeffs: int) -> int:
    """float32 values per Gaussian in buffer `name` (means, scales, rotations: one vec4)."""
    widths = {RowBuffer.OPACITIES: 1, RowBuffer.SH: sh_coeffs * 3, RowBuffer.FLAGS: 1,
              RowBuffer.GPU_FLAGS: 1, RowBuffer.HEAT: 1}  # fmt: skip
    return widths.get(name, 4)


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
            flags, gpu_flags [cap] uint32 layout.FLAG_* bits; heat [cap] f32 in [0, 1];
            with an LOD tree attached also LOD_BUFFERS: lod_cut [cap, LOD_CUT_FLOATS],
            lod_blend [cap, LOD_BLEND_FLOATS], lod_parent_sh [cap, K * 3] f32.
    """

    offset: int
    capacity: int
    buffers: dict[str, moderngl.Buffer]

    def bind(self) -> None:
        """Bind every standard buffer at its binding point (for the preprocess pass)."""
        for name, binding in _BINDINGS.items():
            self.buffers[name].bind_to_storage_buffer(binding)

    def release(self) -> None:
        """Free the buffers."""
        for buffer in self.buffers.values():
            buffer.release()


@dataclass(frozen=True)
class SceneLod:
    """An LOD tree attached to a `GpuScene` (`GpuScene.attach_lod`).

    Its merged nodes are the rows [leaves, count) after the scene's own Gaussians; every row
    (leaves too) holds the LOD_BUFFERS.

    Attributes:
        nodes: merged nodes.
        levels: their deepest level (the scene's own Gaussians are level 0).
    """

    nodes: int
    levels: int


class SceneSubsets:
    """Foveation's nested subsets of a `GpuScene` (`GpuScene.write_levels`), in one buffer.

    Attributes:
        buffer: per row the levels keeping it, uint8, four to a word (`fovea.pack_levels`).
        rows: rows it holds; later rows keep every level.
    """

    def __init__(self, ctx: moderngl.Context, stored: np.ndarray) -> None:
        self.buffer = ctx.buffer(pack_levels(stored).tobytes())
        self.rows = int(np.asarray(stored).shape[0])

    def bind(self) -> None:
        """Bind the levels where the FOVEA variants of the passes read them."""
        self.buffer.bind_to_storage_buffer(BINDING_FOV_LEVELS)

    def release(self) -> None:
        """Free the buffer."""
        self.buffer.release()


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
        serial: this GpuScene's number, unique in the process (id() is reused once the
            object is freed, so a new scene could pass for an old one written again).
        bounds: ([3] lo, [3] hi) float64 robust bounds of the centres (the depth mode's range).
        upload: how rows reach the buffers.
        lod: the attached LOD tree's nodes, or None.
        subsets: foveation's nested subsets, or None (frames then draw every row in full).
    """

    _versions: ClassVar[itertools.count] = itertools.count(1)
    _serials: ClassVar[itertools.count] = itertools.count(1)

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
        self.serial = next(self._serials)
        self.bounds = (-np.ones(3), np.ones(3))
        self.upload: Upload = HostUpload()
        widest = max(16, MAX_SH_COEFFS * 12)
        self.chunk_rows = max(1, min(device.max_ssbo_bytes // widest, _max_dispatch_rows(device)))
        self.chunks: list[SceneChunk] = []
        self._extras: dict[str, int] = {}  # the LOD_BUFFERS attached: 4-byte values per row
        self.lod: SceneLod | None = None
        self.subsets: SceneSubsets | None = None
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
    def lod_nodes(self) -> int:
        """Merged LOD nodes after the leaves (rows leaves .. count - 1); 0 without a tree."""
        return self.lod.nodes if self.lod is not None else 0

    @property
    def lod_levels(self) -> int:
        """The attached tree's deepest level (0 without one: leaves are level 0)."""
        return self.lod.levels if self.lod is not None else 0

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
        levels = self.subsets.buffer.size if self.subsets is not None else 0
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

    def shrink(self, capacity: int) -> None:
        """Free the buffers' rows from `capacity` on (the live rows are always kept)."""
        capacity = max(capacity, self.count, 1)
        if capacity >= self.capacity:
            return
        while self.chunks[-1].offset >= capacity:
            self._release_chunk(self.chunks.pop())
        last = self.chunks[-1]
        if last.offset + last.capacity > capacity:
            self.chunks[-1] = self._moved(last, capacity - last.offset)
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
            self._fill(RowBuffer.FLAGS, self.count, count)
            self._fill(RowBuffer.GPU_FLAGS, self.count, count)
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
            old = chunk.buffers[RowBuffer.SH]
            self.upload.forget(old)
            old.release()
            sh = self.ctx.buffer(reserve=chunk.capacity * self.sh_coeffs * 12)
            sh.clear()
            chunk.buffers[RowBuffer.SH] = sh
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
        self._write_rows(RowBuffer.FLAGS, start, flags, self.count)
        self._touch()

    def write_heat(self, values: np.ndarray, start: int = 0) -> None:
        """Overwrite the heatmap mode's values [start, start + n): [n] float32 in [0, 1]."""
        self._write_rows(RowBuffer.HEAT, start, np.asarray(values, dtype=np.float32), self.count)
        self._touch()

    def write_levels(self, stored: np.ndarray | None) -> None:
        """Foveation's subsets: [n] uint8 per row, the levels that keep it (None: drop them).

        A row keeps levels 0 .. b - 1 for a value b (0: none, 255: every level); rows at or past
        n keep every level. The rows are the scene's, LOD nodes included when attached.
        """
        if self.subsets is not None:
            self.subsets.release()
            self.subsets = None
        if stored is not None:
            self.subsets = SceneSubsets(self.ctx, stored)
        self._touch()

    def attach_lod(self, levels: int, rows: Mapping[str, np.ndarray], **nodes: np.ndarray) -> None:
        """Append an LOD tree's merged nodes after the scene's Gaussians, with its row buffers.

        Any tree attached before is dropped first (`drop_lod`).

        Args:
            levels: the tree's deepest level.
            rows: every LOD_BUFFERS name -> [count + nodes, width] float32, a row per row of
                the scene once the nodes are appended (leaves first).
            nodes: the merged nodes' parameters, as `write` takes them (activated).
        """
        self.drop_lod()
        if set(rows) != set(LOD_BUFFERS):
            raise ValueError(f"an LOD tree brings the buffers {LOD_BUFFERS}, got {sorted(rows)}")
        leaves = self.count
        self.write(leaves, **nodes)
        for name in LOD_BUFFERS:
            self._add_extra(name, rows[name].shape[1])
            self._write_extra(name, rows[name])
        self.lod = SceneLod(nodes=self.count - leaves, levels=levels)

    def drop_lod(self) -> None:
        """Forget the LOD tree: the count falls back to the leaves, the LOD_BUFFERS go.

        The GPU passes' bits are cleared (an old cut's FLAG_LOD_CULLED must not hide leaves).
        """
        if self.lod is not None:
            self.count -= self.lod.nodes
            self.lod = None
            self._fill(RowBuffer.GPU_FLAGS, 0, self.count)
        for name in LOD_BUFFERS:
            self._drop_extra(name)
        self._touch()

    def _add_extra(self, name: str, width: int) -> None:
        """Give every chunk (and every chunk made later) a per-row buffer `name`, zeroed.

        Args:
            name: the buffer's name in `SceneChunk.buffers`.
            width: 4-byte values per row.
        """
        self._drop_extra(name)
        self._extras[name] = width
        for chunk in self.chunks:
            chunk.buffers[name] = self.ctx.buffer(reserve=chunk.capacity * width * 4)
            chunk.buffers[name].clear()
        self._touch()

    def _drop_extra(self, name: str) -> None:
        """Free the extra buffer `name` in every chunk (nothing if there is none)."""
        if self._extras.pop(name, None) is None:
            return
        for chunk in self.chunks:
            buffer = chunk.buffers.pop(name)
            self.upload.forget(buffer)
            buffer.release()
        self._touch()

    def _write_extra(self, name: str, rows: np.ndarray, start: int = 0) -> None:
        """Overwrite rows [start, start + n) of extra buffer `name`: [n, width] or [n] 4-byte."""
        rows = np.ascontiguousarray(rows)
        stop = start + rows.shape[0]
        if start < 0 or stop > self.count:
            raise IndexError(f"rows [{start}, {stop}) outside the scene's {self.count} rows")
        row_bytes = self._extras[name] * 4
        for chunk, lo, hi in self._spans(start, stop):  # host data: never through `upload`
            chunk.buffers[name].write(
                rows[lo - start : hi - start], offset=(lo - chunk.offset) * row_bytes
            )
        self._touch()

    def write_frame_rows(self, name: str, rows: np.ndarray, start: int = 0) -> None:
        """Overwrite rows [start, start + n) of buffer `name` with what a GPU pass would write.

        For per-frame outputs computed on the host instead (viewer/render/lod_cut_host.py): the
        version does not change, as it does not when the GPU pass writes them.
        """
        rows = np.ascontiguousarray(rows)
        stop = start + rows.shape[0]
        if start < 0 or stop > self.count:
            raise IndexError(f"rows [{start}, {stop}) outside the scene's {self.count} rows")
        row_bytes = self._width(name) * 4
        for chunk, lo, hi in self._spans(start, stop):
            chunk.buffers[name].write(
                rows[lo - start : hi - start], offset=(lo - chunk.offset) * row_bytes
            )

    def read(self, name: str, start: int = 0, count: int | None = None) -> np.ndarray:
        """Rows [start, start + count) of one buffer as stored ([n, width] or [n]; tests)."""
        count = self.count - start if count is None else count
        width = self._width(name)
        dtype = np.uint32 if name in (RowBuffer.FLAGS, RowBuffer.GPU_FLAGS) else np.float32
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
        self.lod = None
        if self.subsets is not None:
            self.subsets.release()
            self.subsets = None

    # -- internals -------------------------------------------------------------------------------

    def _touch(self) -> None:
        self.version = next(self._versions)

    def _width(self, name: str) -> int:
        """4-byte values per row of buffer `name` (standard or extra)."""
        return self._extras.get(name) or _row_floats(name, self.sh_coeffs)

    def _allocated(self) -> int:
        return self.chunks[-1].offset + self.chunks[-1].capacity if self.chunks else 0

    def _new_chunk(self, offset: int, rows: int) -> SceneChunk:
        buffers = {
            name: self.ctx.buffer(reserve=rows * self._width(name) * 4)
            for name in (*BUFFERS, *self._extras)
        }
        for name in (RowBuffer.FLAGS, RowBuffer.GPU_FLAGS, *self._extras):
            buffers[name].clear()
        return SceneChunk(offset, rows, buffers)

    def _moved(self, chunk: SceneChunk, rows: int) -> SceneChunk:
        """A chunk of `rows` capacity at `chunk`'s offset holding its first rows (GPU copy)."""
        grown = self._new_chunk(chunk.offset, rows)
        for name, buffer in chunk.buffers.items():
            size = min(buffer.size, grown.buffers[name].size)
            self.ctx.copy_buffer(grown.buffers[name], buffer, size)
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
