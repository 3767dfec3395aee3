"""Preprocess on the host, for the cpu backend on software GL (numba).

On llvmpipe preprocess.comp costs about 0.5-0.7 us of wall time per row with SH of degree 3
(12-13 ms a frame on the built-in scene's 23.6k rows), and the cpu backend reads its output
back anyway. The same arithmetic in numba over rows kept on the host, parallel over rows, is
1-2 ms. `HostPreprocess.run` makes what preprocess.comp appends: the `SPLAT_DTYPE` records, each
splat's Gaussian id and the depth order, in a `HostSplats` the cpu backend bins directly (no
read-back); the renderer writes the visible count into the frame's counters for the stats.

The arithmetic is the shader's, in float32 and in the same order (llvmpipe may contract some
multiply-adds, so values agree within a few float32 ulp, not bit for bit): the near plane and
guard band cull, EWA projection with the clamped Jacobian and the 0.3 px^2 low-pass, antialias,
the 1/255 opacity and off-screen cull, the LOD blend towards the parent (mean, covariance,
opacity, SH) by the weight t the host LOD cut wrote, flags (crop, pruning, selection), SH up to
degree 3, the depth, heat and LOD-level colours, raw (trainer-held) parameters, and the FOVEA
variant's nested subsets (the balanced preset): a row's weight at the lowest fovea level its
footprint's major radius reaches (fovea.glsl's fov_level_near, bands mapping, as fovea_host.py
reproduces llvmpipe's), which drops splats of weight 0 and, for a per-splat raster, scales the
opacity. Splats are appended in row order, not in llvmpipe's atomic order, so the depth order
breaks ties by row.

What it covers (`HostPreprocess.covers`), else the renderer runs the GL pass: frames drawing no
nested subsets or drawing them with the bands mapping (the pooling mapping's tan and cos are
llvmpipe's), with no LOD cut or one the host
made this frame (its weights are on the host; the GL cut's are not), on scenes whose rows are
written from the host (`HostUpload`; a live trainer's CUDA-GL interop writes them on the GPU
side) and not being rewritten (each new version is read back once; a scene written again within
SETTLE_FRAMES frames keeps the GL pass until it settles, unless a GL frame could not hold it).
The points and outlines rasters read the GPU buffers and keep the GL pass. The GPU passes'
flags are not read: the only one they write, FLAG_LOD_CULLED, is the host cut's (its drawn rows
are listed) or outside the flag mask.

The host copy is the rows as stored (248 B a row with SH of degree 3: on llvmpipe the GL buffers
are host memory too, so a scene takes twice its size while the cpu backend draws it). The kernel
compiles on the first frame with a cold cache (about 20 s here with the fovea's branch,
besides the raster's kernels), then loads from the cache (0.2 s).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from viewer import sh as sh_basis
from viewer.camera import Camera
from viewer.render.colormap import HEAT_COLOURS
from viewer.render.fovea import LEVEL_NONE
from viewer.render.fovea_host import (
    FOV_STEPS,
    fma32,
    fov_level_near,
    fov_weight,
    fovea_params,
    supports,
    surely_below,
)
from viewer.render.frame_view import FrameView
from viewer.render.gpu_scene import GpuScene, RowBuffer
from viewer.render.host_splats import HostSplats
from viewer.render.jit_setup import configure_numba
from viewer.render.layout import (
    COLOUR_DEPTH,
    COLOUR_HEAT,
    COLOUR_LOD_LEVEL,
    FLAG_SELECTED,
    SPLAT_DTYPE,
)
from viewer.render.preprocess import colour_source, depth_range
from viewer.settings import RenderSettings

configure_numba()

SETTLE_FRAMES = 8  # a scene written again within this many frames keeps the GL pass (covers)
RECORD_FLOATS = SPLAT_DTYPE.itemsize // 4  # 12: centre 2, extent 2, conic 3, opacity, rgb, z
F0 = np.float32(0.0)
F1 = np.float32(1.0)
F2 = np.float32(2.0)
F3 = np.float32(3.0)
F4 = np.float32(4.0)
HALF = np.float32(0.5)
LOW_PASS = np.float32(0.3)
CLAMP = np.float32(1.3)
MIN_ALPHA = np.float32(1.0 / 255.0)
F255 = np.float32(255.0)
F256 = np.float32(256.0)
HEAT = HEAT_COLOURS.astype(np.float32)
HEAT_TOP = np.float32(len(HEAT_COLOURS) - 1)
DRAWN, CULLED, FOVEA_CULLED = 1, 0, 2  # a row's fate (`_splat`)
SELECTED = np.array([1.0, 0.1, 0.9], np.float32)  # preprocess.comp's SELECTED_COLOUR
SH_C0 = np.float32(sh_basis.C0)  # sh.glsl's constants: the original 3DGS's (viewer/sh.py)
SH_C1 = np.float32(sh_basis.C1)
SH_C2 = np.array(sh_basis.C2, np.float32)
SH_C3 = np.array(sh_basis.C3, np.float32)


@njit(cache=True, inline="always")
def _mix(a, b, t):
    return a + (b - a) * t


@njit(cache=True, inline="always")
def _heat(value, out, i):
    """colormap.glsl's heat_colour(value) into out[i, 8:11]."""
    x = min(max(value, F0), F1) * HEAT_TOP
    lo = min(int(np.floor(x)), HEAT.shape[0] - 2)
    f = x - np.float32(lo)
    for c in range(3):
        out[i, 8 + c] = _mix(HEAT[lo, c], HEAT[lo + 1, c], f)


@njit(cache=True, inline="always")
def _coef(sh, parent_sh, row, k, c, blend):
    """sh_at(k)'s channel c: the row's coefficient, blended towards the parent's by `blend`."""
    own = sh[row, 3 * k + c]
    if blend > F0:
        return _mix(own, parent_sh[row, 3 * k + c], blend)
    return own


@njit(cache=True, inline="always")
def _eval_sh(sh, parent_sh, row, degree, blend, x, y, z, c):
    """sh.glsl's eval_sh(dir, degree), channel c."""
    result = SH_C0 * _coef(sh, parent_sh, row, 0, c, blend)
    if degree < 1:
        return result
    result += (
        -SH_C1 * y * _coef(sh, parent_sh, row, 1, c, blend)
        + SH_C1 * z * _coef(sh, parent_sh, row, 2, c, blend)
        - SH_C1 * x * _coef(sh, parent_sh, row, 3, c, blend)
    )
    if degree < 2:
        return result
    xx, yy, zz = x * x, y * y, z * z
    xy, yz, xz = x * y, y * z, x * z
    result += (
        SH_C2[0] * xy * _coef(sh, parent_sh, row, 4, c, blend)
        + SH_C2[1] * yz * _coef(sh, parent_sh, row, 5, c, blend)
        + SH_C2[2] * (F2 * zz - xx - yy) * _coef(sh, parent_sh, row, 6, c, blend)
        + SH_C2[3] * xz * _coef(sh, parent_sh, row, 7, c, blend)
        + SH_C2[4] * (xx - yy) * _coef(sh, parent_sh, row, 8, c, blend)
    )
    if degree < 3:
        return result
    result += (
        SH_C3[0] * y * (F3 * xx - yy) * _coef(sh, parent_sh, row, 9, c, blend)
        + SH_C3[1] * xy * z * _coef(sh, parent_sh, row, 10, c, blend)
        + SH_C3[2] * y * (F4 * zz - xx - yy) * _coef(sh, parent_sh, row, 11, c, blend)
        + SH_C3[3] * z * (F2 * zz - F3 * xx - F3 * yy) * _coef(sh, parent_sh, row, 12, c, blend)
        + SH_C3[4] * x * (F4 * zz - xx - yy) * _coef(sh, parent_sh, row, 13, c, blend)
        + SH_C3[5] * z * (xx - yy) * _coef(sh, parent_sh, row, 14, c, blend)
        + SH_C3[6] * x * (xx - F3 * yy) * _coef(sh, parent_sh, row, 15, c, blend)
    )
    return result


@njit(cache=True, inline="always")
def _weighed(b, px, py, fov, per_splat):
    """Whether a splat's fovea weight must be worked out (its stored levels b, centre px, py).

    Not where b is past the highest level (weight 1 everywhere), nor, when only the weight's
    sign is read (not `per_splat`: the weight drops a splat, it does not scale it), where the
    centre's level is surely below b (`surely_below`; the footprint's lowest level is at most
    the centre's, so the weight is above 0).
    """
    if b >= fov[FOV_STEPS] + F1:
        return False
    return per_splat or not surely_below(px, py, b, fov)


@njit(cache=True, inline="always")
def _splat(
    row, i, means, scales, rotations, opacities, sh, flags, heat, blend, parent_sh, w, cam, intr,
    image, near, guard, splat_scale, sh_degree, antialias, raw, flag_mask, colour, depth, lod,
    lod_top, stored, fov, per_splat, out,
):  # fmt: skip
    """preprocess.comp's main() for one row: its record into out[i]; DRAWN, CULLED or FOVEA_CULLED.

    `image`: viewport (width, height) and the whole image's tan_half_fov; `depth`: depth_range.

    Nested subsets: `stored` holds each row's levels (empty when none are drawn), `fov` the
    fovea (fovea_host's layout); `per_splat` weighs the opacity, else only weight 0 drops.
    """
    if (flags[row] & flag_mask) != 0:
        return CULLED
    mx, my, mz = means[row, 0], means[row, 1], means[row, 2]
    t = F0
    if lod:
        t = blend[row, 10]
        if t > F0:
            mx = _mix(mx, blend[row, 0], t)
            my = _mix(my, blend[row, 1], t)
            mz = _mix(mz, blend[row, 2], t)
    # world_to_camera * (mean, 1): GLSL sums the columns in order
    tx = w[0, 0] * mx + w[0, 1] * my + w[0, 2] * mz + w[0, 3]
    ty = w[1, 0] * mx + w[1, 1] * my + w[1, 2] * mz + w[1, 3]
    tz = w[2, 0] * mx + w[2, 1] * my + w[2, 2] * mz + w[2, 3]
    if tz <= near:
        return CULLED
    if guard > F0 and (abs(tx / tz) > guard * image[2] or abs(ty / tz) > guard * image[3]):
        return CULLED

    sx, sy, sz = scales[row, 0], scales[row, 1], scales[row, 2]
    if raw:
        sx, sy, sz = np.exp(sx), np.exp(sy), np.exp(sz)
    sx, sy, sz = sx * splat_scale, sy * splat_scale, sz * splat_scale
    qw, qx, qy, qz = rotations[row, 0], rotations[row, 1], rotations[row, 2], rotations[row, 3]
    qq = qw * qw + qx * qx + qy * qy + qz * qz
    if qq == F0:
        return CULLED
    inv = F1 / np.sqrt(qq)
    qw, qx, qy, qz = qw * inv, qx * inv, qy * inv, qz * inv
    # R's rows (rotation_matrix's columns transposed), each column scaled: M = R diag(s)
    r00 = (F1 - F2 * (qy * qy + qz * qz)) * sx
    r01 = (F2 * (qx * qy - qw * qz)) * sy
    r02 = (F2 * (qx * qz + qw * qy)) * sz
    r10 = (F2 * (qx * qy + qw * qz)) * sx
    r11 = (F1 - F2 * (qx * qx + qz * qz)) * sy
    r12 = (F2 * (qy * qz - qw * qx)) * sz
    r20 = (F2 * (qx * qz - qw * qy)) * sx
    r21 = (F2 * (qy * qz + qw * qx)) * sy
    r22 = (F1 - F2 * (qx * qx + qy * qy)) * sz
    s00 = r00 * r00 + r01 * r01 + r02 * r02
    s01 = r00 * r10 + r01 * r11 + r02 * r12
    s02 = r00 * r20 + r01 * r21 + r02 * r22
    s11 = r10 * r10 + r11 * r11 + r12 * r12
    s12 = r10 * r20 + r11 * r21 + r12 * r22
    s22 = r20 * r20 + r21 * r21 + r22 * r22
    if lod and t > F0:
        ss = splat_scale * splat_scale
        s00 = s00 + (blend[row, 4] * ss - s00) * t
        s01 = s01 + (blend[row, 5] * ss - s01) * t
        s02 = s02 + (blend[row, 6] * ss - s02) * t
        s11 = s11 + (blend[row, 7] * ss - s11) * t
        s12 = s12 + (blend[row, 8] * ss - s12) * t
        s22 = s22 + (blend[row, 9] * ss - s22) * t

    limx, limy = CLAMP * image[2], CLAMP * image[3]
    txc = min(max(tx / tz, -limx), limx) * tz
    tyc = min(max(ty / tz, -limy), limy) * tz
    fx, fy = intr[0], intr[1]
    j00 = fx / tz
    j02 = -fx * txc / (tz * tz)
    j11 = fy / tz
    j12 = -fy * tyc / (tz * tz)
    # tw = J W (rows 0 and 1; J's third row is 0)
    a0 = j00 * w[0, 0] + j02 * w[2, 0]
    a1 = j00 * w[0, 1] + j02 * w[2, 1]
    a2 = j00 * w[0, 2] + j02 * w[2, 2]
    b0 = j11 * w[1, 0] + j12 * w[2, 0]
    b1 = j11 * w[1, 1] + j12 * w[2, 1]
    b2 = j11 * w[1, 2] + j12 * w[2, 2]
    # (tw sigma) tw^T, in GLSL's order: tw sigma's rows, then their products with tw's rows
    ua0 = a0 * s00 + a1 * s01 + a2 * s02
    ua1 = a0 * s01 + a1 * s11 + a2 * s12
    ua2 = a0 * s02 + a1 * s12 + a2 * s22
    ub0 = b0 * s00 + b1 * s01 + b2 * s02
    ub1 = b0 * s01 + b1 * s11 + b2 * s12
    ub2 = b0 * s02 + b1 * s12 + b2 * s22
    c00 = ua0 * a0 + ua1 * a1 + ua2 * a2
    c01 = ua0 * b0 + ua1 * b1 + ua2 * b2
    c11 = ub0 * b0 + ub1 * b1 + ub2 * b2
    det0 = c00 * c11 - c01 * c01
    cx2, cz2 = c00 + LOW_PASS, c11 + LOW_PASS
    det = cx2 * cz2 - c01 * c01
    if det <= F0:
        return CULLED
    opacity = opacities[row]
    if raw:
        opacity = F1 / (F1 + np.exp(-opacity))
    if lod and t > F0:
        opacity = _mix(opacity, blend[row, 3], t)
    if antialias:
        opacity *= np.sqrt(max(det0 / det, F0))
    if opacity < MIN_ALPHA:
        return CULLED

    cutoff = F2 * np.log(F255 * opacity)
    ex = np.sqrt(cutoff * cx2)
    ey = np.sqrt(cutoff * cz2)
    px = fx * tx / tz + intr[2]
    py = fy * ty / tz + intr[3]
    if px + ex <= F0 or py + ey <= F0 or px - ex >= image[0] or py - ey >= image[1]:
        return CULLED
    if stored.shape[0] > 0 and _weighed(stored[row], px, py, fov, per_splat):
        # fovea.glsl's weight at the lowest level the footprint reaches (its major radius)
        half = HALF * (cx2 - cz2)
        major = HALF * (cx2 + cz2) + np.sqrt(fma32(half, half, c01 * c01))
        weight = fov_weight(stored[row], fov_level_near(px, py, np.sqrt(cutoff * major), fov))
        if per_splat:
            opacity *= weight
        if weight <= F0 or opacity < MIN_ALPHA:
            return FOVEA_CULLED
        cutoff = F2 * np.log(F255 * opacity)
        ex = np.sqrt(cutoff * cx2)
        ey = np.sqrt(cutoff * cz2)

    if colour == COLOUR_DEPTH:
        _heat((tz - depth[0]) / (depth[1] - depth[0]), out, i)
    elif colour == COLOUR_HEAT:
        _heat(heat[row], out, i)
    elif colour == COLOUR_LOD_LEVEL:
        if lod:
            packed = blend[row, 11]
            own = packed - F256 * np.floor(packed / F256)  # GLSL mod
            level = _mix(own, np.floor(packed / F256), t)
            _heat(level / max(lod_top, F1), out, i)
        else:
            _heat(F0, out, i)
    else:
        dx, dy, dz = mx - cam[0], my - cam[1], mz - cam[2]
        norm = F1 / np.sqrt(dx * dx + dy * dy + dz * dz)
        dx, dy, dz = dx * norm, dy * norm, dz * norm
        for c in range(3):
            value = _eval_sh(sh, parent_sh, row, sh_degree, t, dx, dy, dz, c) + HALF
            out[i, 8 + c] = max(value, F0)
    if (flags[row] & FLAG_SELECTED) != 0:
        for c in range(3):
            out[i, 8 + c] = SELECTED[c]
    out[i, 0] = px
    out[i, 1] = py
    out[i, 2] = ex
    out[i, 3] = ey
    out[i, 4] = cz2 / det  # the conic: (c2.z, -c2.y, c2.x) / det
    out[i, 5] = -c01 / det
    out[i, 6] = cx2 / det
    out[i, 7] = opacity
    out[i, 11] = tz
    return DRAWN


@njit(cache=True, parallel=True)
def _preprocess(
    rows, means, scales, rotations, opacities, sh, flags, heat, blend, parent_sh, w, cam, intr,
    image, near, guard, splat_scale, sh_degree, antialias, raw, flag_mask, colour, depth, lod,
    lod_top, stored, fov, per_splat, out, keep,
):  # fmt: skip
    """Every listed row's record into out[i] and its fate (`_splat`'s) into keep[i]."""
    for i in prange(rows.shape[0]):
        keep[i] = _splat(
            rows[i], i, means, scales, rotations, opacities, sh, flags, heat, blend, parent_sh,
            w, cam, intr, image, near, guard, splat_scale, sh_degree, antialias, raw, flag_mask,
            colour, depth, lod, lod_top, stored, fov, per_splat, out,
        )  # fmt: skip


@dataclass
class _HostRows:
    """The rows of one scene version as its buffers hold them (read back once)."""

    key: tuple[int, int]
    means: np.ndarray
    scales: np.ndarray
    rotations: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray
    flags: np.ndarray
    heat: np.ndarray | None = None  # read when a frame first colours by it
    parent_sh: np.ndarray | None = None  # read when a frame first blends
    stored: np.ndarray | None = None  # foveation's levels, read when a frame first draws them

    @property
    def nbytes(self) -> int:
        """Host memory of the copies."""
        arrays = (self.means, self.scales, self.rotations, self.opacities, self.sh, self.flags,
                  self.heat, self.parent_sh, self.stored)  # fmt: skip
        return sum(a.nbytes for a in arrays if a is not None)


class HostPreprocess:
    """Preprocess on the host: the scene's rows kept here, per scene version."""

    def __init__(self) -> None:
        self._rows: _HostRows | None = None
        self.covered = False  # what `covers` said last
        self._seen: tuple[int, int] | None = None  # (id, version) of the last frame's scene
        self._since = 0  # frames since that scene's version last changed
        self._churning = False  # it changed twice within SETTLE_FRAMES frames, and not since
        self._out = np.zeros((0, RECORD_FLOATS), np.float32)
        self._keep = np.zeros(0, np.uint8)
        self._every = np.zeros(0, np.uint32)  # 0 .. n - 1, the rows of a frame without a list

    @property
    def nbytes(self) -> int:
        """Host memory held: the scene's rows and the last frame's splats."""
        rows = self._rows.nbytes if self._rows is not None else 0
        return rows + self._out.nbytes + self._keep.nbytes + self._every.nbytes

    def covers(self, scene: GpuScene, view: FrameView, listed: bool, fits_gl: bool) -> bool:
        """Whether `run` makes this frame's splats (see the module's docstring).

        `listed`: the LOD cut, if the frame has one, was made on the host this frame (its rows
        and weights are the host cut's). Call once per frame prepared: it follows how often
        the scene changes. A scene written again within SETTLE_FRAMES frames of its last write
        (a live trainer's, one streaming in, a crop box being dragged) takes the GL pass until
        it has been left alone for SETTLE_FRAMES frames, rather than being read back each time;
        unless the GL pass could drop splats (`fits_gl` False: the rows the frame may draw are
        more than a GL frame holds), where each version is read back instead.
        """
        key = (scene.serial, scene.version)
        if self._seen is None or key[0] != self._seen[0]:
            self._churning, self._since = False, 0  # another scene: read it once
        elif key != self._seen:
            self._churning, self._since = self._since < SETTLE_FRAMES, 0
        else:
            self._since += 1
            self._churning = self._churning and self._since < SETTLE_FRAMES
        self._seen = key
        on_host = scene.upload.name == "host" and (not self._churning or not fits_gl)
        nested = view.subsets is None or supports(view.subsets)  # the bands mapping only
        self.covered = on_host and nested and (view.lod is None or listed)
        return self.covered

    def run(
        self,
        scene: GpuScene,
        view: FrameView,
        settings: RenderSettings,
        rows: np.ndarray | None = None,
        blend: np.ndarray | None = None,
        per_splat: bool = False,
    ) -> HostSplats:
        """The visible splats of `view` (a frame `covers` said yes to).

        Args:
            scene: the Gaussians.
            view: the image and what the frame decided for it.
            settings: how splats are made.
            rows: [n] ascending uint32 rows the host LOD cut draws (with `view.lod`), else
                every row of the view is tested.
            blend: with `view.lod`: [M, 12] lod_blend as the host cut last wrote it (t in
                column 10).
            per_splat: with nested subsets (`view.subsets`), weigh each splat's opacity by its
                fovea weight (else, as for the cpu raster, which weighs each pixel, only drop
                the splats of weight 0).
        """
        host = self._fit(scene)
        lod = view.lod is not None
        if lod:
            assert rows is not None and blend is not None, "an LOD frame needs the host cut"
        else:
            if self._every.size < view.rows:
                self._every = np.arange(view.rows, dtype=np.uint32)
            rows = self._every[: view.rows]
        assert rows is not None
        colour = colour_source(settings)
        heat = self._heat(scene, host) if colour == COLOUR_HEAT else _EMPTY1
        parent_sh = self._parent_sh(scene, host) if lod else _EMPTY2
        stored, fov = _NO_LEVELS, _NO_FOVEA
        if view.subsets is not None:
            stored, fov = self._stored(scene, host), fovea_params(view.subsets)
        camera, whole = view.camera, view.whole
        near = scene.near_plane(settings)
        depth_lo, depth_hi = depth_range(camera, scene.bounds, near)
        n = rows.shape[0]
        if self._out.shape[0] < n:
            self._out = np.zeros((n, RECORD_FLOATS), np.float32)
            self._keep = np.zeros(n, np.uint8)
        out, keep = self._out[:n], self._keep[:n]
        f32 = np.float32
        _preprocess(
            rows, host.means, host.scales, host.rotations, host.opacities, host.sh, host.flags,
            heat, blend if lod else _EMPTY2, parent_sh,
            camera.world_to_camera.astype(np.float32), np.asarray(camera.position, np.float32),
            _intrinsics(camera),
            np.array([camera.width, camera.height, whole.width / (2.0 * whole.fx),
                      whole.height / (2.0 * whole.fy)], f32),
            f32(near), f32(settings.guard_band), f32(settings.splat_scale),
            min(settings.sh_degree, scene.sh_degree), settings.antialias, scene.raw,
            np.uint32(view.flag_mask), colour, np.array([depth_lo, depth_hi], f32), lod,
            f32(scene.lod_levels), stored, fov, per_splat, out, keep,
        )  # fmt: skip
        drawn = np.flatnonzero(keep == DRAWN)
        records = out[drawn]
        culled = int(np.count_nonzero(keep == FOVEA_CULLED)) if stored.size else 0
        return HostSplats(records=records, ids=rows[drawn].astype(np.uint32), fovea_culled=culled)

    def _fit(self, scene: GpuScene) -> _HostRows:
        """The scene's rows, read back when the scene or its version changed."""
        key = (scene.serial, scene.version)
        if self._rows is None or self._rows.key != key:
            self._rows = None  # free the old copy first

            def read(name: str) -> np.ndarray:
                return np.ascontiguousarray(scene.read(name))

            self._rows = _HostRows(
                key=key, means=read(RowBuffer.MEANS), scales=read(RowBuffer.SCALES),
                rotations=read(RowBuffer.ROTATIONS), opacities=read(RowBuffer.OPACITIES),
                sh=read(RowBuffer.SH), flags=read(RowBuffer.FLAGS),
            )  # fmt: skip
        return self._rows

    def _heat(self, scene: GpuScene, host: _HostRows) -> np.ndarray:
        if host.heat is None:
            host.heat = np.ascontiguousarray(scene.read(RowBuffer.HEAT))
        return host.heat

    def _stored(self, scene: GpuScene, host: _HostRows) -> np.ndarray:
        """[count] uint8 the levels keeping each row (LEVEL_NONE past the stored rows)."""
        if host.stored is None:
            assert scene.subsets is not None, "foveated subsets need the scene's levels"
            levels = np.full(max(scene.count, 1), LEVEL_NONE, np.uint8)
            rows = min(scene.subsets.rows, scene.count)
            levels[:rows] = np.frombuffer(scene.subsets.buffer.read(), np.uint8)[:rows]
            host.stored = levels
        return host.stored

    def _parent_sh(self, scene: GpuScene, host: _HostRows) -> np.ndarray:
        if host.parent_sh is None:
            host.parent_sh = np.ascontiguousarray(scene.read(RowBuffer.LOD_PARENT_SH))
        return host.parent_sh

    def forget(self) -> None:
        """Drop the host copy (its memory) and the frames' history."""
        self._rows, self._seen, self._since, self._churning = None, None, 0, False
        self._out = np.zeros((0, RECORD_FLOATS), np.float32)
        self._keep = np.zeros(0, np.uint8)


_EMPTY1 = np.zeros(1, np.float32)
_EMPTY2 = np.zeros((1, 1), np.float32)
_NO_LEVELS = np.zeros(0, np.uint8)  # no nested subsets drawn
_NO_FOVEA = np.zeros(1, np.float32)


def _intrinsics(camera: Camera) -> np.ndarray:
    return np.array([camera.fx, camera.fy, camera.cx, camera.cy], np.float32)
