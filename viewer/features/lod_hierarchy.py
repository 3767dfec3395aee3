"""Level of detail (LOD): a merge tree over a scene's Gaussians, and the per-frame cut.

The tree is built on the CPU; the cut here is the numpy reference that the GPU pass mirrors.

Build (Spark 2.0 voxel levels, Hierarchical 3DGS merge; see docs/design_log.md, "Pruning, LOD and
foveation: what the field does"):
    Nodes 0 .. N-1 are the scene's Gaussians (the leaves, unchanged); merged nodes follow them.
    A Gaussian's size is 2 * its largest scale (Spark's feature size); it enters the grid level
    e = ceil(log_r(size)) whose cubic cell, r^e wide (r = grid ratio, 1.5), is the smallest
    that holds it. The grid is anchored at the minimum corner of the centres and never finer
    than 2^21 cells per axis. From the finest level up, the active nodes (the Gaussians that
    entered so far and the nodes made below, minus those already merged) that share a cell
    merge into one new parent; a node alone in its cell stays active as it is (no single-child
    copies: every merged node has at least two children). Once the cells are wider than the
    scene one cell holds everything, so the tree has exactly one root.
    Merge of children i (Kerbl et al. 2024): w_i = o_i * A_i with A = s0 s1 + s0 s2 + s1 s2,
    normalised within the parent (uniform when all are 0); mean = sum w mu;
    Sigma = sum w (Sigma_i + (mu_i - mean)(mu_i - mean)^T); SH = sum w SH_i. Scales and rotation
    come from Sigma's eigen-decomposition (closed form, right-handed, scales floored at 1e-3 of
    the largest so that every merged covariance is positive definite).
    Opacity: o = min(sum_i o_i A_i / A, 1 - prod_i (1 - o_i)). The first term is the rule of
    Hierarchical 3DGS and Spark (the children's opacity-weighted surface spread over the
    parent's); it exceeds 1 when children overlap, and Spark renders that by dilating the
    splat, which this renderer has no way to do. The second is the opacity of all children
    stacked on one ray: a true upper bound, always in [0, 1], exact for coincident children.
Subtree bounds: a sphere (bound_centers, bound_radii) per node that holds the 3-sigma sphere
    of every Gaussian in its subtree (the node's own included); a leaf's is its own
    (3 * largest scale). A parent's centre is the middle of the box around its children's
    spheres and its radius is 1.001x what covers them, stored so that the float32 values nest.

Per-frame cut (what the GPU pass mirrors; camera position x, f = max(fx, fy)):
    size(n) = f * R_n / (|x - c_n| - R_n) pixels, or +inf when |x - c_n| <= R_n (camera inside
        the bounds). It depends on the distance only, not on the view direction: nodes behind
        the camera are sized like nodes in front (culling is the rasterizer's job, and turning
        the camera then never changes the cut). Nested bounds make size(parent) >= size(child).
    In float32 (the GPU), |x - c| carries an error of about 1e-7 |x - c|; the 1.001x nesting
        margin absorbs it while the distance is below about 4000 R, i.e. for every size above
        about f / 4000 pixels (0.25 px at f = 1000): below that a float32 cut can break the
        nesting, so taus under a pixel can differ from this float64 reference near ties.
    expanded(n) = n has children and size(n) >= tau.
    drawn(n) = not expanded(n) and (n is the root or expanded(parent(n))).
        Since sizes grow towards the root, every leaf has exactly one drawn ancestor-or-self,
        and the drawn count never grows with tau. tau -> 0 draws the leaves, a large tau the root.
    Budget: the count is 1 + sum over expanded n of (children(n) - 1); `budget_tau` returns the
        smallest tau whose cut holds at most `budget` nodes (just above a node size).
    Blend (Hierarchical 3DGS's t, width w = 2 by default): a drawn node n with parent p gets
        lo = max(size(p) / w, size(n)), t = clamp((tau - lo) / (size(p) - lo), 0, 1), and t = 0
        for the root, when size(p) is inf, or when size(p) <= lo. t = 0: n itself; t = 1: its
        parent (reached when tau rises to size(p), where the cut switches to p).
    Blended Gaussian (n, p = parent or n for the root):
        mean = lerp(mu_n, mu_p, t); Sigma = lerp(Sigma_n, Sigma_p, t) (blending the covariance,
        not scales and quaternions: a child's and a merged parent's axes have no common order,
        and lerping them spins the ellipsoid); SH = lerp(SH_n, SH_p, t);
        opacity = lerp(o_n, o_p, t) for the heir of p (its child of largest merge weight
        o A, the first in child order on ties), lerp(o_n, 0, t) for its other children.
        At t = 1 the heir is the parent itself and its siblings are gone, so the switch to the
        parent changes nothing. (Hierarchical 3DGS morphs every child into the parent, with
        opacity 1 - (1 - o_p)^(1/k) so that k copies stack to o_p on the ray through the
        centre; off centre k copies of alpha a g composite to 1 - (1 - a g)^k, far more
        opaque than o_p g: on random scenes the switch popped more with that blend than
        without any.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.scene import GaussianScene

GRID_RATIO = 1.5
ENTRY_SIZE_SIGMAS = 2.0  # a Gaussian's size for its level: this many times its largest scale
BOUND_SIGMAS = 3.0  # bounding spheres hold each Gaussian's 3-sigma ellipsoid
BOUND_PADDING = 1e-3  # a parent's sphere is this much wider (relative) than what holds its children
FLAT_FLOOR = 1e-3  # merged scales are at least this fraction of the node's largest scale
ZERO_FLOOR = 1e-6  # ... and at least this fraction of the cell size (coincident point children)
CELL_BITS = 21  # at most 2^21 cells per axis: keys fit in an int64 and cells stay sensible
RANK_LOOP_LIMIT = 32  # segment sums over slices for the first ranks, ufunc.at beyond
DEFAULT_BLEND_WIDTH = 2.0
GATHER_CHUNK_GROUPS = 8192  # groups per chunk of the SH pass


@dataclass(frozen=True, eq=False)
class LodHierarchy:
    """A merge tree over M nodes: the scene's N Gaussians (nodes 0 .. N-1), then merged ones.

    Merged nodes are numbered level by level, so a parent's id is always larger than its
    children's; the root is the last node.

    Attributes:
        means: [M, 3] float32 centres.
        scales: [M, 3] float32 standard deviations.
        rotations: [M, 4] float32 unit quaternions (w, x, y, z), w >= 0 for merged nodes.
        opacities: [M] float32 in [0, 1].
        sh: [M, K, 3] float32 SH coefficients.
        parent_from_node: [M] int32 parent id, -1 for the root.
        level: [M] int32: 0 for leaves, j for nodes merged on the j-th grid (cell_sizes[j - 1]).
        first_child: [M] int32 first slot of the node's children in child_from_slot (CSR).
        child_count: [M] int32 number of children (0 for leaves, >= 2 for merged nodes).
        child_from_slot: [M - 1] int32 child ids grouped by parent, parents in id order.
        bound_centers: [M, 3] float32 centre of the sphere holding the subtree.
        bound_radii: [M] float32 radius of that sphere (the node's world size for the cut).
        cell_sizes: [L] float64 cell width of each merge level 1 .. L.
        leaf_count: N.
        source: the scene's source.
    """

    means: np.ndarray
    scales: np.ndarray
    rotations: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray
    parent_from_node: np.ndarray
    level: np.ndarray
    first_child: np.ndarray
    child_count: np.ndarray
    child_from_slot: np.ndarray
    bound_centers: np.ndarray
    bound_radii: np.ndarray
    cell_sizes: np.ndarray
    leaf_count: int
    source: str = "<memory>"

    @property
    def node_count(self) -> int:
        """Number of nodes M."""
        return int(self.means.shape[0])

    @property
    def root(self) -> int:
        """Id of the root (the last node)."""
        return self.node_count - 1

    def children(self, node: int) -> np.ndarray:
        """[k] int32 ids of the children of `node`."""
        start = int(self.first_child[node])
        return self.child_from_slot[start : start + int(self.child_count[node])]


# -- geometry helpers ---------------------------------------------------------------------------


def _rotation_columns(q: np.ndarray) -> tuple[tuple[np.ndarray, ...], ...]:
    """The rotation matrix columns of [n, 4] unit quaternions (w, x, y, z), in their dtype.

    The columns are ((r00, r10, r20), (r01, r11, r21), (r02, r12, r22)), each entry [n].
    """
    w, x, y, z = q.T
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    return (
        (1 - 2 * (yy + zz), 2 * (xy + wz), 2 * (xz - wy)),
        (2 * (xy - wz), 1 - 2 * (xx + zz), 2 * (yz + wx)),
        (2 * (xz + wy), 2 * (yz - wx), 1 - 2 * (xx + yy)),
    )


def _argmax_rows(values: np.ndarray) -> np.ndarray:
    """[n] int64 index of the largest of the k rows of [k, n] values (first on ties)."""
    best = np.zeros(values.shape[1], dtype=np.int64)
    top = values[0]
    for row in range(1, len(values)):
        better = values[row] > top
        best[better] = row
        top = np.where(better, values[row], top)
    return best


def _quaternions_from_columns(columns: tuple[tuple[np.ndarray, ...], ...]) -> np.ndarray:
    """[n, 4] float64 unit quaternions (w, x, y, z), w >= 0, of rotations given by columns.

    Shepperd's method: each row starts from the largest of 4w^2, 4x^2, 4y^2, 4z^2.
    """
    (m00, m10, m20), (m01, m11, m21), (m02, m12, m22) = columns
    candidates = np.stack(  # [4, n]: 4w^2, 4x^2, 4y^2, 4z^2 (up to rounding)
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22]
    )
    pick = _argmax_rows(candidates)  # [n]
    s = 2.0 * np.sqrt(np.maximum(np.take_along_axis(candidates, pick[None], 0)[0], 1e-300))
    rows = (
        (0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s),
        ((m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s),
        ((m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s),
        ((m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s),
    )
    q = np.stack([np.choose(pick, [row[c] for row in rows]) for c in range(4)], 1)  # [n, 4]
    q /= np.sqrt(np.einsum("ij,ij->i", q, q))[:, None]
    q[q[:, 0] < 0] *= -1.0
    return q


def covariances(
    scales: np.ndarray, quaternions: np.ndarray, dtype: type = np.float64
) -> np.ndarray:
    """[n, 6] (xx, xy, xz, yy, yz, zz) of Sigma = R diag(s^2) R^T, computed in `dtype`.

    The quaternions (w, x, y, z) are normalised first.
    """
    q: np.ndarray = np.asarray(quaternions, dtype=dtype)
    q = q / np.sqrt(np.einsum("ij,ij->i", q, q))[:, None]
    (r00, r10, r20), (r01, r11, r21), (r02, r12, r22) = _rotation_columns(q)
    v0, v1, v2 = (np.asarray(scales, dtype=dtype) ** 2).T
    a0, a1, a2 = r00 * v0, r01 * v1, r02 * v2  # row 0 of R diag(s^2)
    b0, b1, b2 = r10 * v0, r11 * v1, r12 * v2  # row 1
    out: np.ndarray = np.empty((len(q), 6), dtype=dtype)
    out[:, 0] = a0 * r00 + a1 * r01 + a2 * r02
    out[:, 1] = a0 * r10 + a1 * r11 + a2 * r12
    out[:, 2] = a0 * r20 + a1 * r21 + a2 * r22
    out[:, 3] = b0 * r10 + b1 * r11 + b2 * r12
    out[:, 4] = b0 * r20 + b1 * r21 + b2 * r22
    out[:, 5] = r20 * r20 * v0 + r21 * r21 * v1 + r22 * r22 * v2
    return out


def _eigen_columns(
    cov6: np.ndarray,
) -> tuple[np.ndarray, tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]]:
    """Closed-form eigen-decomposition of symmetric 3x3 matrices, vectorised per component.

    Eigenvalues by the trigonometric formula; the eigenvector of the eigenvalue farthest from
    the other two from the longest cross product of two rows of A - lambda I (its gap is at
    least half the spread, so this is stable); the other two from the 2x2 problem in the
    orthogonal plane (Jacobi angle; any angle when they are equal). 3x faster than
    np.linalg.eigh on [n, 3, 3] (0.15 s against 0.44 s CPU for 200k matrices on the 2-core box).

    Returns:
        ([n, 3] float64 eigenvalues (Rayleigh quotients, may be slightly negative),
        the three eigenvectors (v, e1, e2), each a tuple of [n] x, y, z, right-handed).
    """
    a, b, c, d, e, f = np.ascontiguousarray(np.asarray(cov6, dtype=np.float64).T)
    q = (a + d + f) / 3.0
    ap, dp, fp = a - q, d - q, f - q
    p2 = (ap * ap + dp * dp + fp * fp + 2.0 * (b * b + c * c + e * e)) / 6.0
    p = np.sqrt(p2)
    det = ap * (dp * fp - e * e) - b * (b * fp - e * c) + c * (b * e - dp * c)
    p3 = p2 * p
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(p3 > 0, det / (2.0 * p3), 0.0)
    phi = np.arccos(np.clip(r, -1.0, 1.0)) / 3.0
    high = q + 2.0 * p * np.cos(phi)
    low = q + 2.0 * p * np.cos(phi + 2.0 * math.pi / 3.0)
    middle = 3.0 * q - high - low
    apart = np.where(high - middle >= middle - low, high, low)  # [n] the isolated eigenvalue
    al, dl, fl = a - apart, d - apart, f - apart  # diagonal of A - apart I
    crosses = (  # row0 x row1, row0 x row2, row1 x row2
        (b * e - c * dl, c * b - al * e, al * dl - b * b),
        (b * fl - c * e, c * c - al * fl, al * e - b * c),
        (dl * fl - e * e, e * c - b * fl, b * e - dl * c),
    )
    lengths = [cx * cx + cy * cy + cz * cz for cx, cy, cz in crosses]
    best = _argmax_rows(np.stack(lengths))  # [n]
    length = np.sqrt(np.choose(best, lengths))
    degenerate = ~(length > 0)  # isotropic: any basis
    length[degenerate] = 1.0
    vx, vy, vz = (np.choose(best, [cr[i] for cr in crosses]) / length for i in range(3))
    vx[degenerate], vy[degenerate], vz[degenerate] = 1.0, 0.0, 0.0
    # u: a unit vector perpendicular to v (v crossed with the axis it leans on least)
    ax, ay, az = np.abs(vx), np.abs(vy), np.abs(vz)
    use_x = (ax <= ay) & (ax <= az)
    use_y = ~use_x & (ay <= az)
    zero = np.zeros_like(vx)
    ux = np.where(use_x, 0.0, np.where(use_y, -vz, vy))  # v x e_x = (0, vz, -vy), ...
    uy = np.where(use_x, vz, np.where(use_y, zero, -vx))
    uz = np.where(use_x, -vy, np.where(use_y, vx, zero))
    u_length = np.sqrt(ux * ux + uy * uy + uz * uz)
    ux, uy, uz = ux / u_length, uy / u_length, uz / u_length
    wx, wy, wz = vy * uz - vz * uy, vz * ux - vx * uz, vx * uy - vy * ux  # w = v x u

    def quad(x1, y1, z1, x2, y2, z2):  # x1^T A x2
        return (
            x1 * (a * x2 + b * y2 + c * z2)
            + y1 * (b * x2 + d * y2 + e * z2)
            + z1 * (c * x2 + e * y2 + f * z2)
        )

    uau = quad(ux, uy, uz, ux, uy, uz)
    uaw = quad(ux, uy, uz, wx, wy, wz)
    waw = quad(wx, wy, wz, wx, wy, wz)
    theta = 0.5 * np.arctan2(2.0 * uaw, uau - waw)
    cos, sin = np.cos(theta), np.sin(theta)
    e1 = (cos * ux + sin * wx, cos * uy + sin * wy, cos * uz + sin * wz)
    e2 = (cos * wx - sin * ux, cos * wy - sin * uy, cos * wz - sin * uz)  # v x e1
    values = np.stack(
        [
            quad(vx, vy, vz, vx, vy, vz),
            cos * cos * uau + 2.0 * cos * sin * uaw + sin * sin * waw,
            sin * sin * uau - 2.0 * cos * sin * uaw + cos * cos * waw,
        ],
        1,
    )
    return values, ((vx, vy, vz), e1, e2)


def scales_rotations_from_covariances(
    cov6: np.ndarray, min_scale: np.ndarray | float | None = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Scales and unit quaternions of covariances; negative eigenvalues are clamped to 0.

    Args:
        cov6: [n, 6] (xx, xy, xz, yy, yz, zz).
        min_scale: [n] or scalar absolute floor for the scales (for all-zero covariances);
            None: no floors at all, not even FLAT_FLOOR.

    Returns:
        ([n, 3] float64 scales, each >= max(FLAT_FLOOR * largest, min_scale),
        [n, 4] float64 quaternions (w, x, y, z), w >= 0).
    """
    values, columns = _eigen_columns(cov6)
    scales = np.sqrt(np.maximum(values, 0.0))  # [n, 3]
    if min_scale is not None:
        floor = np.maximum(FLAT_FLOOR * _largest(scales), min_scale)  # [n]
        scales = np.maximum(scales, floor[:, None])
    return scales, _quaternions_from_columns(columns)


def _largest(values: np.ndarray) -> np.ndarray:
    """[n] largest of each row of [n, 3] values (8x faster than .max(axis=1) on 3 columns)."""
    return np.maximum(np.maximum(values[:, 0], values[:, 1]), values[:, 2])


def _lengths(vectors: np.ndarray) -> np.ndarray:
    """[n] Euclidean lengths of [n, 3] vectors."""
    x, y, z = vectors[:, 0], vectors[:, 1], vectors[:, 2]
    return np.sqrt(x * x + y * y + z * z)


def _surfaces(scales: np.ndarray) -> np.ndarray:
    """[n] float64 s0 s1 + s0 s2 + s1 s2 (Hierarchical 3DGS's surface proxy)."""
    s = np.asarray(scales, dtype=np.float64)
    return s[:, 0] * s[:, 1] + s[:, 0] * s[:, 2] + s[:, 1] * s[:, 2]


def _round_up_f32(values: np.ndarray) -> np.ndarray:
    """float64 values of the smallest float32 numbers >= `values`."""
    rounded = values.astype(np.float32)
    low = rounded.astype(np.float64) < values
    rounded[low] = np.nextafter(rounded[low], np.float32(np.inf))
    return rounded.astype(np.float64)


# -- segment reductions -------------------------------------------------------------------------


class _Groups:
    """G groups of >= 1 members ordered by non-increasing size, members laid out rank-major.

    Member r of group g sits at offsets[r] + g (the groups with more than r members are
    0 .. counts[r] - 1), so the sum over groups of the first RANK_LOOP_LIMIT ranks is a few
    contiguous slice additions; the rare members beyond go through ufunc.at per column.
    """

    def __init__(self, sizes: np.ndarray) -> None:
        self.sizes = sizes  # [G] int64, non-increasing
        self.count = len(sizes)
        histogram = np.bincount(sizes)  # [R + 1] groups of each size
        self.counts = self.count - np.cumsum(histogram)[:-1]  # [R] groups with size > r
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])  # [R + 1]
        edges = int(self.offsets[-1])
        self.rank_from_edge = np.repeat(np.arange(len(self.counts)), self.counts)  # [E]
        self.group_from_edge = np.arange(edges) - self.offsets[self.rank_from_edge]  # [E]

    def _reduce(self, values: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
        out = values[: self.count].copy()  # rank 0: one member of every group
        loop_ranks = min(len(self.counts), RANK_LOOP_LIMIT)
        for r in range(1, loop_ranks):
            c = self.counts[r]
            ufunc(out[:c], values[self.offsets[r] : self.offsets[r] + c], out=out[:c])
        tail = int(self.offsets[loop_ranks])
        if tail < len(values):
            groups = self.group_from_edge[tail:]
            flat_out = out.reshape(self.count, -1)
            flat_values = values[tail:].reshape(len(groups), -1)
            for col in range(flat_out.shape[1]):
                column = flat_out[:, col].copy()
                ufunc.at(column, groups, flat_values[:, col])
                flat_out[:, col] = column
        return out

    def gather_sum(
        self, out: np.ndarray, source: np.ndarray, index: np.ndarray, weights: np.ndarray
    ) -> None:
        """out[g] = sum over the members e of group g of weights[e] * source[index[e]].

        Chunk by chunk of groups, through one small scratch buffer: for wide rows (SH) this
        beats gathering all members at once (fewer fresh pages, better cache use).

        Args:
            out: [G, C] float32 output.
            source: [*, C] float32 rows.
            index: [E] rank-major row of each member.
            weights: [E] float32 rank-major member weights.
        """
        loop_ranks = min(len(self.counts), RANK_LOOP_LIMIT)
        chunk = GATHER_CHUNK_GROUPS
        scratch = np.empty((min(chunk, self.count), source.shape[1]), dtype=source.dtype)
        for g0 in range(0, self.count, chunk):
            g1 = min(g0 + chunk, self.count)
            acc = out[g0:g1]
            np.take(source, index[g0:g1], axis=0, out=scratch[: g1 - g0])
            np.multiply(scratch[: g1 - g0], weights[g0:g1, None], out=acc)
            for r in range(1, loop_ranks):
                hi = min(int(self.counts[r]), g1)
                if hi <= g0:
                    break
                members = slice(int(self.offsets[r]) + g0, int(self.offsets[r]) + hi)
                part = np.take(source, index[members], axis=0, out=scratch[: hi - g0])
                part *= weights[members, None]
                acc[: hi - g0] += part
        tail = int(self.offsets[loop_ranks])
        if tail < len(index):
            part = source.take(index[tail:], axis=0) * weights[tail:, None]
            groups = self.group_from_edge[tail:]
            for col in range(out.shape[1]):
                np.add.at(out[:, col], groups, part[:, col])

    def sum(self, values: np.ndarray) -> np.ndarray:
        """[G, ...] sums of [E, ...] rank-major member values."""
        return self._reduce(values, np.add)

    def max(self, values: np.ndarray) -> np.ndarray:
        """[G, ...] maxima of [E, ...] rank-major member values."""
        return self._reduce(values, np.maximum)

    def min(self, values: np.ndarray) -> np.ndarray:
        """[G, ...] minima of [E, ...] rank-major member values."""
        return self._reduce(values, np.minimum)


@dataclass
class _Merge:
    """One level's merges, kept for the SH pass: parents first_id .. first_id + G - 1."""

    first_id: int
    groups: _Groups
    child_from_edge: np.ndarray  # [E] int64 rank-major
    weights: np.ndarray  # [E] float32 normalised merge weights


class _Nodes:
    """Node attributes while the tree grows (capacity 2N - 1, the most nodes possible).

    Means, merge weights and bounds are float64 (offsets between nearby centres far from the
    origin need it); covariances are float32, as the stored float32 parameters give them.
    """

    def __init__(self, scene: GaussianScene, max_scales: np.ndarray) -> None:
        n = scene.count
        cap = max(2 * n - 1, 1)
        self.count = n
        self.means = np.empty((cap, 3))
        self.scales = np.empty((cap, 3), dtype=np.float32)  # merged nodes only
        self.rotations = np.empty((cap, 4), dtype=np.float32)  # merged nodes only
        self.opacities = np.empty(cap, dtype=np.float32)  # merged nodes only
        self.log_clear = np.empty(cap)  # log(1 - opacity)
        self.covs = np.empty((cap, 6), dtype=np.float32)
        self.weights = np.empty(cap)  # opacity * surface, the raw merge weight
        self.centers = np.empty((cap, 3))
        self.radii = np.empty(cap)
        self.parent = np.full(cap, -1, dtype=np.int32)
        self.level = np.zeros(cap, dtype=np.int32)
        self.first_child = np.zeros(cap, dtype=np.int32)
        self.child_count = np.zeros(cap, dtype=np.int32)
        self.child_from_slot = np.empty(max(cap - 1, 0), dtype=np.int32)
        self.slots = 0
        self._set_merge_inputs(
            slice(0, n), scene.means, scene.scales, scene.rotations, scene.opacities
        )
        self.centers[:n] = self.means[:n]
        self.radii[:n] = BOUND_SIGMAS * max_scales  # float32 product: what is stored

    def _set_merge_inputs(
        self,
        ids: slice,
        means: np.ndarray,
        scales: np.ndarray,
        rotations: np.ndarray,
        opacities: np.ndarray,
    ) -> None:
        """Store what later merges read of nodes `ids`.

        From [G, 3] means, [G, 3] scales, [G, 4] rotations and [G] opacities, all float32 as
        stored.
        """
        self.means[ids] = means
        self.covs[ids] = covariances(scales, rotations, np.float32)
        self.weights[ids] = opacities * _surfaces(scales)
        with np.errstate(divide="ignore"):
            self.log_clear[ids] = np.log1p(-opacities.astype(np.float64))

    def merge(
        self, groups: _Groups, child_from_edge: np.ndarray, level: int, cell: float
    ) -> _Merge:
        """Append one parent per group; returns the level's `_Merge` record.

        Args:
            groups: the groups of children, rank-major.
            child_from_edge: [E] node id of each child, rank-major.
            level: the merge level (1-based) the parents get.
            cell: that level's cell width (scales the floor of all-zero covariances).
        """
        g = groups.group_from_edge  # [E]
        raw = self.weights.take(child_from_edge)  # [E]
        total = groups.sum(raw)  # [G]
        flat = ~(total > 0)  # groups whose members all have zero opacity or surface: uniform
        if flat.any():
            raw = np.where(flat[g], 1.0, raw)
        norm = raw / groups.sum(raw)[g]  # [E] sums to 1 per group
        child_means = self.means.take(child_from_edge, axis=0)  # [E, 3]
        means = groups.sum(child_means * norm[:, None])  # [G, 3]
        ox, oy, oz = (child_means - means[g]).T  # [E] each: offset from the parent's mean
        moments = self.covs.take(child_from_edge, axis=0).astype(np.float64)  # [E, 6]
        for col, (p, q) in enumerate(((ox, ox), (ox, oy), (ox, oz), (oy, oy), (oy, oz), (oz, oz))):
            moments[:, col] += p * q
        moments *= norm[:, None]
        covs = groups.sum(moments)  # [G, 6]
        scales, rotations = scales_rotations_from_covariances(covs, ZERO_FLOOR * cell)
        # store what float32 keeps: later merges (and the tests) see the nodes as stored
        means = means.astype(np.float32)
        scales = scales.astype(np.float32)
        rotations = rotations.astype(np.float32)
        stacked = 1.0 - np.exp(groups.sum(self.log_clear.take(child_from_edge)))  # [G] one ray
        with np.errstate(divide="ignore", invalid="ignore"):
            spread_out = np.where(total > 0, total / _surfaces(scales), np.inf)
        opacities = np.clip(np.minimum(spread_out, stacked), 0.0, 1.0).astype(np.float32)

        count = groups.count
        ids = slice(self.count, self.count + count)
        self._set_merge_inputs(ids, means, scales, rotations, opacities)
        self.scales[ids], self.rotations[ids], self.opacities[ids] = scales, rotations, opacities
        self._bound(ids, groups, child_from_edge)
        self.parent[child_from_edge] = self.count + g
        self.level[ids] = level
        # CSR: parents in id order, each one's children contiguous in rank order
        first = self.slots + np.concatenate([[0], np.cumsum(groups.sizes)[:-1]])  # [G]
        self.first_child[ids] = first
        self.child_count[ids] = groups.sizes
        self.child_from_slot[first[g] + groups.rank_from_edge] = child_from_edge
        self.slots += len(child_from_edge)
        self.count += count
        return _Merge(ids.start, groups, child_from_edge, norm.astype(np.float32))

    def _bound(self, ids: slice, groups: _Groups, child_from_edge: np.ndarray) -> None:
        """Spheres of the new parents `ids` around their children's spheres and own 3 sigma."""
        g = groups.group_from_edge
        centers = self.centers.take(child_from_edge, axis=0)  # [E, 3]
        radii = self.radii.take(child_from_edge)  # [E]
        own_radius = BOUND_SIGMAS * _largest(self.scales[ids]).astype(np.float64)  # [G]
        own_center = self.means[ids]  # [G, 3]
        low = np.minimum(groups.min(centers - radii[:, None]), own_center - own_radius[:, None])
        high = np.maximum(groups.max(centers + radii[:, None]), own_center + own_radius[:, None])
        center = (0.5 * (low + high)).astype(np.float32).astype(np.float64)  # [G, 3]
        centers -= center[g]
        reach = groups.max(np.sqrt(np.einsum("ij,ij->i", centers, centers)) + radii)  # [G]
        own_reach = _lengths(own_center - center) + own_radius
        self.centers[ids] = center
        self.radii[ids] = _round_up_f32(np.maximum(reach, own_reach) * (1.0 + BOUND_PADDING))


# -- build --------------------------------------------------------------------------------------


def _cell_keys(positions: np.ndarray, origin: np.ndarray, cell: float, bits: int) -> np.ndarray:
    """[n] int64 cell key (x, y, z packed with `bits` bits each) of [n, 3] positions."""
    q = np.floor((positions - origin) / cell)  # [n, 3]
    q = np.clip(q, 0, (1 << bits) - 1).astype(np.int64)
    return (q[:, 0] << (2 * bits)) | (q[:, 1] << bits) | q[:, 2]


def _group_by_cell(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort [n] keys into cells.

    Returns:
        ([n] input position of each sorted position, [C] first sorted position of each cell,
        [C] cell sizes).
    """
    n = len(keys)
    index_bits = max(int(n - 1).bit_length(), 1)
    key_bits = int(keys.max()).bit_length() if n else 0
    if key_bits + index_bits <= 63:  # sort keys with the index packed in: 2-3x faster
        packed = np.sort((keys << index_bits) | np.arange(n, dtype=np.int64))
        input_from_sorted = packed & ((1 << index_bits) - 1)
        sorted_keys = packed >> index_bits
    else:
        input_from_sorted = np.argsort(keys, kind="stable")
        sorted_keys = keys[input_from_sorted]
    starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
    sizes = np.diff(np.concatenate([starts, [n]]))
    return input_from_sorted, starts, sizes


def build_hierarchy(
    scene: GaussianScene,
    grid_ratio: float = GRID_RATIO,
    progress: Callable[[float], None] | None = None,
) -> LodHierarchy:
    """Merge the scene's Gaussians level by level into one tree (see the module docstring).

    Args:
        scene: the Gaussians; they become nodes 0 .. N-1, unchanged.
        grid_ratio: cell width ratio between consecutive levels (> 1).
        progress: called with the fraction done (0..1) between levels.

    Returns:
        The hierarchy; its root is the last node.
    """
    if not grid_ratio > 1.0:
        raise ValueError(f"grid_ratio must be > 1, got {grid_ratio}")
    n = scene.count
    max_scales = _largest(scene.scales)  # [N] float32
    nodes = _Nodes(scene, max_scales)
    means = nodes.means[:n]  # [N, 3] float64
    origin = np.array([means[:, axis].min() for axis in range(3)])  # per column: 8x faster
    sizes = ENTRY_SIZE_SIGMAS * max_scales.astype(np.float64)  # [N]
    extent = max(float(means[:, axis].max() - origin[axis]) for axis in range(3))
    if not extent > 0:  # every centre at one point: one cell at any level
        extent = max(float(sizes.max()), 1e-30)
    log_ratio = math.log(grid_ratio)
    # finest level: at most 2^CELL_BITS - 1 cells across the scene
    finest = math.ceil(math.log(extent / ((1 << CELL_BITS) - 2)) / log_ratio)
    with np.errstate(divide="ignore"):
        entry = np.ceil(np.log(sizes) / log_ratio)  # [N], -inf for zero sizes
    entry = np.maximum(entry, finest).astype(np.int64)
    # levels span far fewer than 2^15 values: a stable sort of int16 is a radix sort
    leaf_from_entry_rank = np.argsort((entry - entry.min()).astype(np.int16), kind="stable")  # [N]
    entry_sorted = entry[leaf_from_entry_rank]
    first_level = int(entry_sorted[0])
    last_level = max(int(entry_sorted[-1]), math.ceil(math.log(extent) / log_ratio) + 1)
    merges: list[_Merge] = []
    cell_sizes: list[float] = []
    active = np.empty(0, dtype=np.int64)
    entered = 0
    exponent = first_level
    while True:
        joined = int(np.searchsorted(entry_sorted, exponent, side="right"))
        active = np.concatenate([active, leaf_from_entry_rank[entered:joined]])
        entered = joined
        if entered == n and len(active) <= 1:
            break
        cell = grid_ratio**exponent
        cells_across = int(extent / cell) + 1
        bits = max(min(cells_across.bit_length(), CELL_BITS), 1)
        keys = _cell_keys(nodes.means[active], origin, cell, bits)
        active_from_sorted, starts, counts = _group_by_cell(keys)
        merged_cells = counts >= 2
        if merged_cells.any():
            # groups: the cells of 2+ nodes, by non-increasing size
            cell_from_group = np.flatnonzero(merged_cells)[
                np.argsort(-counts[merged_cells], kind="stable")
            ]
            groups = _Groups(counts[cell_from_group])
            sorted_from_edge = (
                starts[cell_from_group][groups.group_from_edge] + groups.rank_from_edge
            )
            child_from_edge = active[active_from_sorted[sorted_from_edge]]
            cell_sizes.append(cell)
            merge = nodes.merge(groups, child_from_edge, len(cell_sizes), cell)
            merges.append(merge)
            lone = active[active_from_sorted[starts[~merged_cells]]]
            new = np.arange(merge.first_id, merge.first_id + groups.count)
            active = np.concatenate([lone, new])
        exponent += 1
        if progress is not None:
            span = max(last_level - first_level + 1, exponent - first_level)
            progress(0.8 * (exponent - first_level) / span)
    return _finish(scene, nodes, merges, np.array(cell_sizes), progress)


def _finish(
    scene: GaussianScene,
    nodes: _Nodes,
    merges: list[_Merge],
    cell_sizes: np.ndarray,
    progress: Callable[[float], None] | None,
) -> LodHierarchy:
    """The SH of the merged nodes (one pass per level) and the final float32 arrays."""
    m, n = nodes.count, scene.count
    k = scene.sh.shape[1]
    sh = np.empty((m, k * 3), dtype=np.float32)  # [M, K * 3]
    sh[:n] = scene.sh.reshape(n, k * 3)
    for i, merge in enumerate(merges):
        parents = sh[merge.first_id : merge.first_id + merge.groups.count]  # [G, K * 3]
        merge.groups.gather_sum(parents, sh, merge.child_from_edge, merge.weights)
        if progress is not None:
            progress(0.8 + 0.2 * (i + 1) / len(merges))
    inner = slice(n, m)

    def joined(leaves: np.ndarray, merged: np.ndarray) -> np.ndarray:
        return np.concatenate([leaves, merged.astype(np.float32)])

    if progress is not None:
        progress(1.0)
    return LodHierarchy(
        means=joined(scene.means, nodes.means[inner]),  # leaves bit-exact
        scales=joined(scene.scales, nodes.scales[inner]),
        rotations=joined(scene.rotations, nodes.rotations[inner]),
        opacities=joined(scene.opacities, nodes.opacities[inner]),
        sh=sh.reshape(m, k, 3),
        parent_from_node=nodes.parent[:m].copy(),
        level=nodes.level[:m].copy(),
        first_child=nodes.first_child[:m].copy(),
        child_count=nodes.child_count[:m].copy(),
        child_from_slot=nodes.child_from_slot[: nodes.slots].copy(),
        bound_centers=nodes.centers[:m].astype(np.float32),
        bound_radii=nodes.radii[:m].astype(np.float32),
        cell_sizes=cell_sizes.astype(np.float64),
        leaf_count=n,
        source=scene.source,
    )


# -- per-frame cut (numpy reference of the GPU pass) --------------------------------------------


def projected_size(hierarchy: LodHierarchy, camera: Camera) -> np.ndarray:
    """[M] float64 size of each node in pixels: f R / (distance to its bounding sphere).

    +inf when the camera is inside (or on) the sphere. Direction-free: a node behind the camera
    gets the size it would have in front of it.
    """
    focal = max(camera.fx, camera.fy)
    radii = hierarchy.bound_radii.astype(np.float64)  # [M]
    distance = _lengths(hierarchy.bound_centers - camera.position)  # [M] float64
    gap = distance - radii
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap > 0, focal * radii / gap, np.inf)


def _cut(hierarchy: LodHierarchy, sizes: np.ndarray, tau: float) -> np.ndarray:
    """[M] bool drawn nodes for precomputed `sizes`."""
    expanded = (sizes >= tau) & (hierarchy.child_count > 0)  # [M]
    parent = hierarchy.parent_from_node
    return ~expanded & np.where(parent >= 0, expanded[np.maximum(parent, 0)], True)


def reference_cut(hierarchy: LodHierarchy, camera: Camera, tau: float) -> np.ndarray:
    """[M] bool: the nodes drawn at pixel threshold `tau` (see the module docstring)."""
    return _cut(hierarchy, projected_size(hierarchy, camera), tau)


def budget_tau(hierarchy: LodHierarchy, camera: Camera, budget: int) -> tuple[float, np.ndarray]:
    """The smallest tau whose cut draws at most `budget` nodes, and that cut ([M] bool).

    0.0 when even every leaf fits. When the nodes whose bounds hold the camera (size +inf,
    always expanded) alone need more than `budget`, the tau of the smallest cut possible.

    Raises:
        ValueError: when budget < 1.
    """
    if budget < 1:
        raise ValueError(f"the budget must be at least 1 node, got {budget}")
    sizes = projected_size(hierarchy, camera)  # [M]
    inner = hierarchy.child_count > 0
    values, inverse = np.unique(sizes[inner], return_inverse=True)  # ascending, inf last
    added = np.bincount(inverse, weights=hierarchy.child_count[inner] - 1)  # [U]
    above = added.sum() - np.cumsum(added)  # [U] added by the sizes above each
    finite = np.isfinite(values)
    # candidates in increasing tau: 0 (all expanded), then just above each finite size
    taus = np.concatenate([[0.0], np.nextafter(values[finite], np.inf)])
    counts = 1 + np.concatenate([[added.sum()], above[finite]])
    fits = np.flatnonzero(counts <= budget)
    pick = int(fits[0]) if len(fits) else len(taus) - 1
    tau = float(taus[pick])
    return tau, _cut(hierarchy, sizes, tau)


def blend_weights(
    hierarchy: LodHierarchy, camera: Camera, tau: float, width: float = DEFAULT_BLEND_WIDTH
) -> np.ndarray:
    """[M] float64 t of each drawn node towards its parent (0 for nodes not drawn).

    t = clamp((tau - lo) / (size(p) - lo), 0, 1) with lo = max(size(p) / width, size(n));
    0 for the root, when size(p) is inf or size(p) <= lo (so width = 1 switches hard).

    Raises:
        ValueError: when width < 1.
    """
    if not width >= 1.0:
        raise ValueError(f"the blend width must be >= 1, got {width}")
    sizes = projected_size(hierarchy, camera)
    drawn = _cut(hierarchy, sizes, tau)
    parent = hierarchy.parent_from_node
    parent_size = np.where(parent >= 0, sizes[np.maximum(parent, 0)], np.inf)  # [M]
    low = np.maximum(parent_size / width, sizes)
    with np.errstate(invalid="ignore"):  # inf - inf where the parent holds the camera
        span = parent_size - low
    ok = drawn & np.isfinite(parent_size) & (span > 0)
    t = np.zeros(hierarchy.node_count)
    t[ok] = np.clip((tau - low[ok]) / span[ok], 0.0, 1.0)
    return t


def heirs(hierarchy: LodHierarchy) -> np.ndarray:
    """[M] bool: whether each node is its parent's heir (the root is not).

    The heir of a merged node is its child of largest merge weight opacity x (s0 s1 + s0 s2 +
    s1 s2), the first in child order on ties: at t = 1 of the blend it becomes the parent.
    """
    n, m = hierarchy.leaf_count, hierarchy.node_count
    out = np.zeros(m, bool)
    if m == n:
        return out
    children = hierarchy.child_from_slot  # [M - 1] grouped by parent, parents in id order
    weight = hierarchy.opacities[children].astype(np.float64) * _surfaces(
        hierarchy.scales[children]
    )
    first = hierarchy.first_child[n:]  # [M - N] segment starts
    best = np.maximum.reduceat(weight, first)  # [M - N]
    slot_parent = np.repeat(np.arange(m - n), hierarchy.child_count[n:])  # [M - 1]
    slots = np.arange(len(children))
    candidate = np.where(weight == best[slot_parent], slots, len(children))
    out[children[np.minimum.reduceat(candidate, first)]] = True
    return out


def blend_nodes(hierarchy: LodHierarchy, ids: np.ndarray, t: np.ndarray) -> GaussianScene:
    """The Gaussians drawn for nodes `ids` at blend weights `t` (see the module docstring).

    Args:
        hierarchy: the tree.
        ids: [n] node ids.
        t: [n] weights in [0, 1] towards each node's parent (the root blends with itself).

    Returns:
        [n] Gaussians; scales and rotations are the eigen-decomposition of the blended
        covariance (what the GPU uses directly).
    """
    ids = np.asarray(ids, dtype=np.int64)
    t = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)  # [n]
    parent = hierarchy.parent_from_node[ids].astype(np.int64)
    parent_or_self = np.where(parent >= 0, parent, ids)  # [n]

    def lerp(values: np.ndarray) -> np.ndarray:
        a = values[ids].astype(np.float64)
        b = values[parent_or_self].astype(np.float64)
        return a + (b - a) * t.reshape((-1,) + (1,) * (a.ndim - 1))

    cov_node = covariances(hierarchy.scales[ids], hierarchy.rotations[ids])  # [n, 6]
    cov_parent = covariances(hierarchy.scales[parent_or_self], hierarchy.rotations[parent_or_self])
    cov = cov_node + (cov_parent - cov_node) * t[:, None]  # [n, 6]
    # no floors: t = 0 gives the node itself, flat leaves included
    scales, rotations = scales_rotations_from_covariances(cov, min_scale=None)
    inherits = heirs(hierarchy)[ids] | (parent < 0)
    target = np.where(inherits, hierarchy.opacities[parent_or_self].astype(np.float64), 0.0)
    own = hierarchy.opacities[ids].astype(np.float64)
    opacities = own + (target - own) * t
    return GaussianScene(
        lerp(hierarchy.means).astype(np.float32),
        scales.astype(np.float32),
        rotations.astype(np.float32),
        np.clip(opacities, 0.0, 1.0).astype(np.float32),
        lerp(hierarchy.sh).astype(np.float32),
        source=f"{hierarchy.source} (LOD blend)",
    )
