"""The level-of-detail cut on the host, for the cpu backend on software GL (numba).

lod_cut.comp's histogram, select and cut stages over every node cost about 70 + 200 ns of wall
time per row on llvmpipe (20-28 ms a frame on 100k rows); the same arithmetic in numba over the
rows kept on the host is a few ms. It reads the rows the GL pass reads (`RowBuffer.LOD_CUT`,
read back once per scene version) and writes what the GL pass writes: `FLAG_LOD_CULLED` in
`gpu_flags`, t in `lod_blend`'s column 10 and the frame's state words (tau, its bin, the drawn
counts), so preprocess, the raster and the stats see no difference. Only the rows whose flag or
t changed since the last host cut are written. It also lists the rows it draws (`rows`), so
preprocess runs over those only (its ROW_LIST variant) rather than over every row.

The arithmetic is the shader's, in float32 and in the same order, with the one fused
multiply-add llvmpipe makes in length() (below). Against lod_cut.comp on llvmpipe
(tests/test_lod_cut_host.py: donut.ply along an orbit and a spiral, tau and budget cuts): the
same flags, drawn counts and budget counts; t not always the same bits: a few float32 ulp of the
sizes (some contraction llvmpipe makes that is not reproduced here) and, in the budget cut, tau
as the exact bin edge rather than llvmpipe's exp2 (1e-7 relative) reach t through
(tau - low) / (P - low), up to 2e-5 where P - low is small; the images differ by under 1e-3.
The budget's bin takes log2 from libm rather than llvmpipe's, so a size within about 1e-7 of a
bin edge could fall in the next bin (none did in those tests).

Foveated (the bands mapping), each size is divided by tau's factor at the lowest level its
sphere's disc reaches, as lod_cut.comp's fov_tau_factor does: the sphere projected with
world_to_camera and the intrinsics (`precise`, no fma), then fovea.glsl's fov_level_near. Its
atan is Mesa's polynomial (fovea_host.py), not libm's: the two differ by about 1e-5 rad, which moves
a level near a band's ramp by 1e-4. What is left are ulps (normalize()'s rounding on llvmpipe
is not always reproduced), which the ramp's (x - border) / ramp amplifies where a node's level
is near 0 (its size then far above tau). The same flags and counts as the GL pass on donut.ply
along an orbit and a spiral, gaze centred and off centre (tests/test_lod_cut_host.py; guitar at
1280x720 too, once); t within about 2e-4. The pooling mapping (llvmpipe's tan and cos) stays on
the GL pass; pow() is exact only where it is 1 (tau's scale 1, or a level at most 1), elsewhere
libm's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from viewer.camera import Camera
from viewer.render.fovea import FoveaUniforms
from viewer.render.fovea_host import FOV_TAU_SCALE, fov_level_near, fovea_params, supports
from viewer.render.frame_inputs import LodCut
from viewer.render.gpu_scene import GpuScene, RowBuffer
from viewer.render.jit_setup import configure_numba
from viewer.render.layout import (
    FLAG_LOD_CULLED,
    LOD_BINS,
    LOD_BINS_PER_OCTAVE,
    LOD_LOG2_MIN,
    LOD_MAX_LEVELS,
    LOD_STATE_BIN,
    LOD_STATE_BUDGET_COUNT,
    LOD_STATE_DRAWN,
    LOD_STATE_LEVELS,
    LOD_STATE_TAU,
    LOD_STATE_WORDS,
)
from viewer.render.lod_cut import bin_edge

configure_numba()

BLEND_T = 10  # lod_blend's column of the weight t
INF32 = np.float32(np.inf)
F0 = np.float32(0.0)
F1 = np.float32(1.0)
F2 = np.float32(2.0)


@njit(cache=True, inline="always")
def _node_size(cx, cy, cz, focal, x, y, z, r):
    """lod_cut.comp's node_size (unfoveated) in float32: f R / (|x - c| - R), +inf inside."""
    dx = cx - x
    dy = cy - y
    dz = cz - z
    # llvmpipe contracts length()'s dot into fma(x, x, y y + z z) (`precise` or not): one
    # rounding of x x + the rest, exact in float64 for float32 operands
    dot = np.float32(np.float64(dx) * np.float64(dx) + np.float64(dy * dy + dz * dz))
    gap = np.sqrt(dot) - r
    if gap <= F0:
        return INF32
    return focal * r / gap


@njit(cache=True, inline="always")
def _fov_size(size, x, y, z, r, view, fov):
    """lod_cut.comp's node_size under foveation: `size` (unfoveated) / fov_tau_factor."""
    if np.isinf(size):
        return size  # fov_tau_factor 1
    # world_to_camera * (x, y, z, 1), column by column, `precise` (no fma)
    tx = view[0, 0] * x + view[0, 1] * y + view[0, 2] * z + view[0, 3]
    ty = view[1, 0] * x + view[1, 1] * y + view[1, 2] * z + view[1, 3]
    tz = view[2, 0] * x + view[2, 1] * y + view[2, 2] * z + view[2, 3]
    if tz <= r:
        return size
    px = view[3, 0] * tx / tz + view[3, 2]  # intrinsics (row 3: fx, fy, cx, cy)
    py = view[3, 1] * ty / tz + view[3, 3]
    level = fov_level_near(px, py, size, fov)
    factor = min(level, F1) * _pow(fov[FOV_TAU_SCALE], max(level - F1, F0))
    return size / factor if factor > F0 else INF32


@njit(cache=True, inline="always")
def _pow(base, exponent):
    """pow(): exactly 1 for exponent 0 or base 1 (llvmpipe's exp2(log2 b e) is too)."""
    if exponent == F0 or base == F1:
        return F1
    return np.float32(np.float64(base) ** np.float64(exponent))


@njit(cache=True, inline="always")
def _size_bin(size):
    """lod_cut.comp's size_bin."""
    if np.isinf(size):
        return LOD_BINS
    if not size > F0:
        return 0
    b = np.floor((np.log2(size) - np.float32(LOD_LOG2_MIN)) * np.float32(LOD_BINS_PER_OCTAVE))
    return int(min(max(b, F0), np.float32(LOD_BINS - 1)))


@njit(cache=True, parallel=True)
def _sizes(rows, camera, focal, sizes, parent_sizes):
    """Every node's size and its parent's (+inf for the root's parent)."""
    cx, cy, cz = camera[0], camera[1], camera[2]
    for i in prange(rows.shape[0]):
        sizes[i] = _node_size(cx, cy, cz, focal, rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3])
        if rows[i, 7] < F0:
            parent_sizes[i] = INF32
        else:
            parent_sizes[i] = _node_size(
                cx, cy, cz, focal, rows[i, 4], rows[i, 5], rows[i, 6], rows[i, 7]
            )


@njit(cache=True, parallel=True)
def _fov_sizes(rows, parents, camera, focal, view, fov, plain_from, sizes, parent_sizes):
    """`_sizes` under foveation: each size divided by tau's factor at its sphere's level.

    A size depends on the sphere only, so a parent's is read from the row holding the same
    sphere (`parents`, `parent_rows`; -1: worked out from the copy). A size of `plain_from` or
    more is kept as it is (`_plain_from`).
    """
    cx, cy, cz = camera[0], camera[1], camera[2]
    for i in prange(rows.shape[0]):
        x, y, z, r = rows[i, 0], rows[i, 1], rows[i, 2], rows[i, 3]
        size = _node_size(cx, cy, cz, focal, x, y, z, r)
        sizes[i] = size if size >= plain_from else _fov_size(size, x, y, z, r, view, fov)
    for i in prange(rows.shape[0]):
        if rows[i, 7] < F0:
            parent_sizes[i] = INF32
        elif parents[i] >= 0:
            parent_sizes[i] = sizes[parents[i]]
        else:
            x, y, z, r = rows[i, 4], rows[i, 5], rows[i, 6], rows[i, 7]
            size = _node_size(cx, cy, cz, focal, x, y, z, r)
            parent_sizes[i] = size if size >= plain_from else _fov_size(size, x, y, z, r, view, fov)


PLAIN_MARGIN = 1e-5  # relative, above tau x width (`_plain_from`)


def _plain_from(cut: LodCut, tau_scale: float) -> np.float32:
    """The size from which a node keeps its plain size, not worked out foveated (+inf: none).

    With tau's scale at most 1 the fovea's factor is at most 1, so a foveated size is at least
    the plain one. A tau cut reads a size only against tau (expanded, or a child's parent
    expanded) and in the blend, whose low end max(parent / width, size) reaches tau once the
    size does tau x width, where t clamps to 0: from tau x max(width, 1) on, the plain size
    makes the same flags and weights (1e-5 above it, so that float32's parent / width stays at
    or above tau). A budget cut bins every size: none kept plain.
    """
    if cut.budget > 0 or tau_scale > 1.0:
        return INF32
    return np.float32(cut.tau * max(cut.blend_width, 1.0) * (1.0 + PLAIN_MARGIN))


def parent_rows(rows: np.ndarray) -> np.ndarray:
    """Per row i, a row whose sphere (columns 0-3) is bitwise i's copy of its parent's (4-7).

    [M] int64; -1 for the root and where no row holds that sphere.
    """
    own = np.ascontiguousarray(rows[:, 0:4]).view(np.uint64)  # [M, 2]: the sphere's bits
    copy = np.ascontiguousarray(rows[:, 4:8]).view(np.uint64)
    order = np.lexsort((own[:, 1], own[:, 0]))
    key = own[order]
    # by the first word, then the second within the run of equal first words
    lo = np.searchsorted(key[:, 0], copy[:, 0], side="left")
    hi = np.searchsorted(key[:, 0], copy[:, 0], side="right")
    parents = _match(key[:, 1], copy[:, 1], lo, hi, order)
    parents[rows[:, 7] < 0] = -1
    return parents


@njit(cache=True)
def _match(second, wanted, lo, hi, order):
    """Per row i, order[j] for the j in [lo[i], hi[i]) with second[j] == wanted[i], else -1."""
    parents = np.full(wanted.shape[0], -1, np.int64)
    for i in range(wanted.shape[0]):
        j = lo[i] + np.searchsorted(second[lo[i] : hi[i]], wanted[i])
        if j < hi[i] and second[j] == wanted[i]:
            parents[i] = order[j]
    return parents


@njit(cache=True)
def _histogram(rows, sizes):
    """Stage 1: per inner node, children - 1 added to its size's bin ([LOD_BINS + 1])."""
    hist = np.zeros(LOD_BINS + 1, np.int64)
    for i in range(rows.shape[0]):
        children = rows[i, 8]
        if children >= F2:
            hist[_size_bin(sizes[i])] += np.int64(children) - 1
    return hist


@njit(cache=True)
def _cut(rows, sizes, parent_sizes, use_budget, tau, tau_bin, blend_width, flags, weights, levels):
    """Stage 3: the drawn flag and t of every node, the drawn counts per level; returns drawn."""
    drawn_count = 0
    for i in range(rows.shape[0]):
        size = sizes[i]
        parent_size = parent_sizes[i]
        root = rows[i, 7] < F0
        if use_budget:
            own = _size_bin(size) >= tau_bin
            up = _size_bin(parent_size) >= tau_bin
        else:
            own = size >= tau
            up = parent_size >= tau
        drawn = not (rows[i, 8] >= F2 and own) and (root or up)
        flags[i] = 0 if drawn else FLAG_LOD_CULLED
        weight = F0
        if drawn and not root and blend_width > F1 and not np.isinf(parent_size):
            low = max(parent_size / blend_width, size)
            if parent_size > low:
                weight = min(max((tau - low) / (parent_size - low), F0), F1)
        weights[i] = weight
        if drawn:
            levels[min(int(rows[i, 9]), LOD_MAX_LEVELS - 1)] += 1
            drawn_count += 1
    return drawn_count


def select_bin(histogram: np.ndarray, budget: int) -> tuple[int, int]:
    """Stage 2: the smallest bin whose cut draws at most `budget` nodes, and that count.

    count(b) = 1 + the infinite bin + the bins >= b; (LOD_BINS, 1 + the infinite bin) when no
    bin fits.
    """
    counts = 1 + int(histogram[LOD_BINS]) + np.cumsum(histogram[LOD_BINS - 1 :: -1])[::-1]
    fits = np.flatnonzero(counts <= budget)
    if fits.size == 0:
        return LOD_BINS, 1 + int(histogram[LOD_BINS])
    best = int(fits[0])
    return best, int(counts[best])


def view_params(camera: Camera) -> np.ndarray:
    """[4, 4] float32: world_to_camera's rows 0-2 and the intrinsics (fx, fy, cx, cy)."""
    view = np.asarray(camera.world_to_camera, np.float32).copy()
    view[3] = (camera.fx, camera.fy, camera.cx, camera.cy)
    return view


class HostLodCut:
    """The cut on the host: the scene's LOD rows kept here, and what was last written."""

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None  # (id, version) of the scene the rows are of
        self._rows = np.zeros((0, 12), np.float32)
        self._parents: np.ndarray | None = None  # per row, a row holding its parent's sphere
        self._flags = np.zeros(0, np.uint32)  # gpu_flags as last written by this cut
        self._others = np.zeros(0, np.uint32)  # gpu_flags' bits other than FLAG_LOD_CULLED
        self._blend = np.zeros((0, 12), np.float32)  # lod_blend as last written
        self.rows = np.zeros(0, np.uint32)  # the rows the last cut draws (for preprocess)

    @property
    def blend(self) -> np.ndarray:
        """[M, 12] lod_blend as the host cut last wrote it (t in column 10; preprocess_host)."""
        return self._blend

    def forget(self) -> None:
        """The GL pass wrote the buffers: the next host cut rewrites every row."""
        self._key = None

    def run(
        self,
        scene: GpuScene,
        camera: Camera,
        cut: LodCut,
        fovea: FoveaUniforms | None = None,
        tau_scale: float = 1.0,
    ) -> np.ndarray:
        """Cut `scene` for `camera`; returns the state words [LOD_STATE_WORDS].

        With `fovea` (the bands mapping: `supports`) the cut follows the gaze as
        `LodCutPass.run`'s does: each size is divided by tau's factor at the lowest level its
        sphere's disc reaches (+inf in the fovea), `tau_scale` per level beyond level 1.
        """
        if not supports(fovea):
            raise ValueError("the host LOD cut takes the bands mapping only")
        self._fit(scene)
        rows = self._rows
        m = rows.shape[0]
        sizes = np.empty(m, np.float32)
        parent_sizes = np.empty(m, np.float32)
        position = np.asarray(camera.position, np.float32)
        focal = np.float32(max(camera.fx, camera.fy))
        if fovea is None:
            _sizes(rows, position, focal, sizes, parent_sizes)
        else:
            fov = fovea_params(fovea, tau_scale)
            if self._parents is None:
                self._parents = parent_rows(rows)  # 40-60 ms on 55-105k rows, once per version
            view = view_params(camera)
            plain_from = _plain_from(cut, tau_scale)
            _fov_sizes(
                rows, self._parents, position, focal, view, fov, plain_from, sizes, parent_sizes
            )
        words = np.zeros(LOD_STATE_WORDS, np.uint32)
        use_budget = cut.budget > 0
        tau = np.float32(cut.tau)
        tau_bin = 0
        if use_budget:
            tau_bin, count = select_bin(_histogram(rows, sizes), min(cut.budget, 2**32 - 1))
            tau = np.float32(bin_edge(tau_bin))
            words[LOD_STATE_BIN] = tau_bin
            words[LOD_STATE_BUDGET_COUNT] = count
        flags = np.empty(m, np.uint32)
        weights = np.empty(m, np.float32)
        levels = np.zeros(LOD_MAX_LEVELS, np.int64)
        drawn = _cut(
            rows, sizes, parent_sizes, use_budget, tau, tau_bin,
            np.float32(cut.blend_width), flags, weights, levels,
        )  # fmt: skip
        words[LOD_STATE_TAU] = tau.view(np.uint32)
        words[LOD_STATE_DRAWN] = drawn
        words[LOD_STATE_LEVELS : LOD_STATE_LEVELS + LOD_MAX_LEVELS] = levels
        flags |= self._others
        self._write(scene, flags, weights)
        # every gpu_flags bit clear (preprocess's ROW_LIST variant does not read them; the bits
        # other than FLAG_LOD_CULLED are reserved, never set)
        self.rows = np.flatnonzero(flags == 0).astype(np.uint32)
        return words

    def _fit(self, scene: GpuScene) -> None:
        """Read the scene's LOD rows back when the scene or its version changed."""
        key = (scene.serial, scene.version)
        if key == self._key:
            return
        self._rows = np.ascontiguousarray(scene.read(RowBuffer.LOD_CUT), np.float32)
        self._parents = None  # found by the first foveated cut
        self._blend = np.ascontiguousarray(scene.read(RowBuffer.LOD_BLEND), np.float32)
        self._others = scene.read(RowBuffer.GPU_FLAGS) & np.uint32(~FLAG_LOD_CULLED & 0xFFFFFFFF)
        self._flags = np.full(scene.count, 2**32 - 1, np.uint32)  # every row rewritten
        self._blend[:, BLEND_T] = math.nan  # ditto (nan equals nothing)
        self._key = key

    def _write(self, scene: GpuScene, flags: np.ndarray, weights: np.ndarray) -> None:
        """Write the rows whose flag or t changed (one span each), as the GL pass would."""
        changed = np.flatnonzero(flags != self._flags)
        if changed.size:
            lo, hi = int(changed[0]), int(changed[-1]) + 1
            self._flags[lo:hi] = flags[lo:hi]
            scene.write_frame_rows(RowBuffer.GPU_FLAGS, self._flags[lo:hi], lo)
        changed = np.flatnonzero(weights != self._blend[:, BLEND_T])
        if changed.size:
            lo, hi = int(changed[0]), int(changed[-1]) + 1
            self._blend[lo:hi, BLEND_T] = weights[lo:hi]
            scene.write_frame_rows(RowBuffer.LOD_BLEND, self._blend[lo:hi], lo)
