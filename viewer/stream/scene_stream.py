"""A streamed scene on the GPU: each frame, the leaves' levels the camera needs, made resident.

The scene starts as every leaf at its coarsest level (what `load_scene(..., lod_level=None)`
read, in `level_pieces` order, the environment last): the floor that always stays drawn. Each
`update`:
1. plans each leaf's level for the camera under the GPU budget (plan.py), less one leaf's
   largest piece, so that any one swap fits;
2. takes the chunk files read since the last frame (chunk_cache.py) and swaps leaves whose
   planned piece is in the host cache: the old piece's rows are blanked and given back, the
   new piece is written into free rows (row_pool.py), coarsening first (it frees rows), then
   refining, the coarsest-looking leaf first, at most UPLOAD_ROWS a frame; a leaf keeps its
   piece until the replacement is written, so nothing is ever missing from a frame;
3. asks the cache for the files of the swaps still waiting, most wanted first.
No frame waits on the disk. Blank rows (zero rotation) are culled by preprocess first thing;
the GPU scene's count is one past the highest row in use.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.formats.sog import read_sog
from viewer.formats.sog_files import SogFolder
from viewer.formats.sog_lod import level_pieces, read_lod_meta
from viewer.render.budget import gpu_scene_bytes
from viewer.render.gpu_scene import GpuScene
from viewer.scene import DEGREE_FOR_SH_COEFFS, GaussianScene
from viewer.settings import StreamSettings
from viewer.stream.chunk_cache import ChunkCache
from viewer.stream.leaves import StreamLeaves
from viewer.stream.plan import plan_levels, spacing
from viewer.stream.row_pool import Ranges, RowPool

UPLOAD_ROWS = 262_144  # Gaussians written to the GPU per frame at most (about 30-60 MB)
MB = 2**20


@dataclass
class _Drawn:
    """The piece a leaf is drawn with: its level and its rows in the GPU scene."""

    level: int
    ranges: Ranges


@dataclass(frozen=True)
class StreamFacts:
    """What the panel, the overlay and the bench show of a stream.

    Attributes:
        gaussians: Gaussians of the finest level. levels: LOD levels. leaves: spatial leaves.
        drawn: Gaussians resident on the GPU (drawn). by_level: leaves drawn per level.
        gpu_bytes, gpu_budget: the resident rows' GPU memory and its budget.
        host_bytes, host_budget: decoded chunks held (and being read) and their budget.
        held: chunk files in the host cache. pending: reads under way or queued.
        loads: chunk files read so far. evictions: files dropped from the host cache for room.
        swaps: pieces written to the GPU so far. load_ms: the newest read's time.
        waiting: leaves not yet at their planned level. failures: 'file: reason' lines.
        note: a line about the budgets, or "".
    """

    gaussians: int
    levels: int
    leaves: int
    drawn: int
    by_level: tuple[int, ...]
    gpu_bytes: int
    gpu_budget: int
    host_bytes: int
    host_budget: int
    held: int
    pending: int
    loads: int
    evictions: int
    swaps: int
    load_ms: float
    waiting: int
    failures: tuple[str, ...]
    note: str


class SceneStream:
    """Keeps a GPU scene holding what the camera needs of a streamed scene (module docs).

    Attributes:
        path: the lod-meta.json. meta: its index. leaves: its leaves as arrays.
        gpu: the GPU scene. pool: its rows. cache: the decoded chunk files.
        capacity: rows the GPU budget allows now. floor: rows of the coarsest pieces.
    """

    def __init__(self, gpu_scene: GpuScene, scene: GaussianScene, frame_limit: int) -> None:
        """Take over `gpu_scene`, which holds `scene` (marked `streamed`) as it was read.

        Args:
            gpu_scene: holds `scene`'s rows.
            scene: every leaf at its coarsest level, read by load_scene(..., lod_level=None).
            frame_limit: splats one frame can draw on the device (render.budget.frame_capacity).
        """
        if scene.streamed is None:
            raise ValueError("not a streamed scene")
        self.path = Path(scene.streamed)
        self.meta = read_lod_meta(self.path)
        self.leaves = StreamLeaves.of(self.meta)
        self.gpu = gpu_scene
        self._folder = SogFolder(self.path)
        self._frame_limit = frame_limit
        leaf_of_node = {int(node): i for i, node in enumerate(self.leaves.nodes)}
        self._drawn: dict[int, _Drawn] = {}
        start = 0
        for piece in level_pieces(self.meta, None):
            self._drawn[leaf_of_node[piece.leaf]] = _Drawn(
                piece.level, [(start, start + piece.ref.count)]
            )
            start += piece.ref.count
        if start > scene.count:
            raise SceneError(self.path, "changed on disk while it was read")
        self.floor = scene.count  # the coarsest pieces and the environment: always resident
        self.pool = RowPool(scene.count)
        self.pool.take(scene.count)
        self.row_bytes = gpu_scene_bytes(1, gpu_scene.sh_coeffs)
        self.capacity = scene.count
        self._note = ""
        self._swaps = 0
        self._file_rows = np.zeros(len(self.meta.filenames), np.int64)
        for node in self.meta.nodes:
            for ref in node.lods.values():
                end = ref.offset + ref.count
                self._file_rows[ref.file] = max(self._file_rows[ref.file], end)
        self.cache = ChunkCache(self._read, self._decoded_bytes, 0)
        self._planned = self.leaves.coarsest()
        self._gaps = np.zeros(self.leaves.counts.shape)
        self._planned_for: tuple[object, ...] = ()
        self._queue: list[tuple[int, int]] = []  # (leaf, next level) waiting, by `update`

    # -- chunk files -----------------------------------------------------------------------------

    def _decoded_bytes(self, file: int) -> int:
        """Host bytes of chunk `file` as the cache keeps it (`_read`)."""
        floats = 3 + 3 + 4 + 1 + 3 * self.gpu.sh_coeffs
        return int(self._file_rows[file]) * floats * 4

    def _read(self, file: int) -> GaussianScene:
        """The rows the index uses of chunk `file`, at the stream's SH degree (a worker thread)."""
        name = self.meta.filenames[file]
        chunk = read_sog(self._folder.path(name))
        rows = int(self._file_rows[file])
        if chunk.count < rows:
            raise SceneError(
                self.path,
                f"lod-meta.json gives rows up to {rows:,} of '{name}', which holds {chunk.count:,}",
            )
        kept = chunk.subset(np.arange(rows)) if chunk.count > rows else chunk
        kept = dataclasses.replace(kept, log_scales=None, opacity_logits=None)
        if kept.sh.shape[1] != self.gpu.sh_coeffs:
            kept = kept.with_sh_degree(DEGREE_FOR_SH_COEFFS[self.gpu.sh_coeffs])
        return kept

    # -- each frame ------------------------------------------------------------------------------

    def update(self, camera: Camera, near: float, settings: StreamSettings) -> bool:
        """Plan for `camera`, swap in what has been read, ask for the rest.

        Returns:
            Whether the GPU scene's rows changed.
        """
        self._apply_budgets(settings)  # files still needed: those of the last update's queue
        self.cache.collect()
        key = (camera.world_to_camera.tobytes(), camera.fx, camera.fy, camera.width,
               camera.height, near, settings.detail, self.capacity)  # fmt: skip
        if key != self._planned_for:
            self._planned_for = key
            reserve = int(self.leaves.counts.max(initial=0))
            self._planned = plan_levels(
                self.leaves, camera, near, self.capacity - reserve, settings.detail
            )
            self._gaps = spacing(self.leaves, camera, near)
        changed = self._swap(self._waiting())
        files = self._files(self._waiting())
        self.cache.want(files, self._held(files))
        self._queue = self._waiting()  # as the cache left it (a file too large fails in `want`)
        return changed

    def _apply_budgets(self, settings: StreamSettings) -> None:
        rows = int(settings.gpu_budget_mb * MB // self.row_bytes)
        self._note = ""
        if rows < self.floor:
            self._note = (
                f"the coarsest level needs {self.floor * self.row_bytes / MB:.0f} MB on the GPU, "
                "more than the budget: only it is drawn"
            )
        self.capacity = max(min(rows, self._frame_limit), self.floor)
        self.pool.resize(self.capacity)
        if self.gpu.capacity > self.pool.capacity:  # a lower budget: memory above is free
            self.gpu.shrink(self.pool.capacity)
        self.cache.resize(int(settings.host_budget_mb * MB), self._held(self._files(self._queue)))

    def _step(self, leaf: int) -> int | None:
        """The level `leaf` goes to next, or None when it waits for nothing.

        Coarsening goes straight to the planned level; refining goes to the finest level
        towards the plan whose file is held, else to the next finer level (coarse first: a
        coarse level's files are small and shared by many leaves). Levels whose files failed
        are passed over.
        """
        planned, drawn = int(self._planned[leaf]), self._drawn[leaf].level
        refs, failed = self.leaves.refs[leaf], self.cache.failures
        if planned == drawn:
            return None
        if planned > drawn:
            return None if refs[planned].file in failed else planned
        levels = [
            level
            for level in range(planned, drawn)
            if level in refs and refs[level].count and refs[level].file not in failed
        ]
        held = [level for level in levels if self.cache.holds(refs[level].file)]
        if held:
            return held[0]
        return levels[-1] if levels else None

    def _waiting(self) -> list[tuple[int, int]]:
        """(leaf, its next level) of the leaves that wait, in the order to swap them.

        Coarsening first (it frees rows), then the leaves that look coarsest now.
        """
        steps = [(leaf, self._step(leaf)) for leaf in self._drawn]
        waiting = [(leaf, level) for leaf, level in steps if level is not None]
        return sorted(
            waiting,
            key=lambda step: (
                step[1] < self._drawn[step[0]].level,
                -self._gaps[step[0], self._drawn[step[0]].level],
            ),
        )

    def _files(self, steps: list[tuple[int, int]]) -> list[int]:
        """The chunk files of `steps` (leaf, level), in order."""
        return [self.leaves.refs[leaf][level].file for leaf, level in steps]

    def _held(self, files: list[int]) -> set[int]:
        """Those of `files` the cache holds (pinned: swaps still need them)."""
        return {file for file in files if self.cache.holds(file)}

    def _swap(self, steps: list[tuple[int, int]]) -> bool:
        """Write the pieces of `steps` whose files are held (at most UPLOAD_ROWS rows)."""
        written = 0
        for leaf, level in steps:
            ref = self.leaves.refs[leaf][level]
            chunk = self.cache.get(ref.file)
            if chunk is None:
                continue
            old = self._drawn[leaf]
            if ref.count > self.pool.free + sum(b - a for a, b in old.ranges):
                continue
            if written and written + ref.count > UPLOAD_ROWS:
                break
            self._blank(old.ranges)
            self.pool.give(old.ranges)
            ranges = self.pool.take(ref.count)
            assert ranges is not None
            self._write(chunk, ref.offset, ranges)
            self._drawn[leaf] = _Drawn(level, ranges)
            written += ref.count
            self._swaps += 1
        if written and self.gpu.count > self.pool.end:
            self.gpu.resize(self.pool.end)
        return written > 0

    def _write(self, chunk: GaussianScene, offset: int, ranges: Ranges) -> None:
        """Write chunk rows from `offset` on into `ranges` of the GPU scene."""
        top = max(stop for _, stop in ranges)
        if top > self.gpu.capacity:
            self.gpu.reserve(min(max(top, int(self.gpu.capacity * 1.5)), self.capacity))
        if top > self.gpu.count:
            self.gpu.resize(top)
        for start, stop in ranges:
            rows = slice(offset, offset + stop - start)
            self.gpu.write(
                start,
                means=chunk.means[rows],
                scales=chunk.scales[rows],
                rotations=chunk.rotations[rows],
                opacities=chunk.opacities[rows],
                sh=chunk.sh[rows],
            )
            offset += stop - start

    def _blank(self, ranges: Ranges) -> None:
        """Zero the rows of `ranges` below the count (a zero rotation is culled at once)."""
        for start, stop in ranges:
            stop = min(stop, self.gpu.count)
            if start < stop:
                zeros = np.zeros((stop - start, 4), np.float32)
                self.gpu.write(
                    start,
                    means=zeros[:, :3],
                    scales=zeros[:, :3],
                    rotations=zeros,
                    opacities=zeros[:, 0],
                )

    # -- waiting and reporting -------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Leaves waiting for their planned piece after the last `update`."""
        return len(self._queue)

    @property
    def refining(self) -> bool:
        """Whether some leaf still waits for its planned piece."""
        return bool(self._queue)

    def settle(self, camera: Camera, near: float, settings: StreamSettings) -> bool:
        """`update` until every leaf is at its planned level or its file failed (blocking).

        Returns:
            Whether the GPU scene's rows changed.
        """
        changed = self.update(camera, near, settings)
        while self.refining:
            self.cache.wait(1.0)
            changed = self.update(camera, near, settings) or changed
        return changed

    def host_copy(self) -> GaussianScene:
        """The GPU scene's rows read back as a scene (blank rows hold zeros)."""
        count = self.gpu.count
        sh = self.gpu.read("sh").reshape(count, -1, 3)
        rotations = self.gpu.read("rotations")
        rotations[~rotations.any(axis=1)] = (1.0, 0.0, 0.0, 0.0)
        return GaussianScene(
            np.ascontiguousarray(self.gpu.read("means")[:, :3]),
            np.ascontiguousarray(self.gpu.read("scales")[:, :3]),
            rotations,
            self.gpu.read("opacities"),
            sh,
            source=str(self.path),
            file_format="PlayCanvas streamed SOG v1 (resident rows)",
        )

    def facts(self) -> StreamFacts:
        """The stream's state now."""
        by_level = np.bincount(
            [drawn.level for drawn in self._drawn.values()], minlength=self.meta.levels
        )
        failures = tuple(
            f"{self.meta.filenames[file]}: {reason}" for file, reason in self.cache.failures.items()
        )
        return StreamFacts(
            gaussians=self.meta.counts[0],
            levels=self.meta.levels,
            leaves=self.leaves.count,
            drawn=self.pool.used,
            by_level=tuple(int(n) for n in by_level),
            gpu_bytes=self.pool.used * self.row_bytes,
            gpu_budget=self.capacity * self.row_bytes,
            host_bytes=self.cache.nbytes,
            host_budget=self.cache.budget,
            held=self.cache.held,
            pending=self.cache.pending,
            loads=self.cache.loads,
            evictions=self.cache.evictions,
            swaps=self._swaps,
            load_ms=self.cache.load_ms,
            waiting=self.waiting,
            failures=failures,
            note=self._note,
        )

    def close(self) -> None:
        """Stop reading and drop the cache."""
        self.cache.close()
