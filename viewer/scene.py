"""The Gaussian scene model: N Gaussians as float32 struct-of-arrays, activated parameters."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError

if TYPE_CHECKING:
    import torch

ORIGINAL_NEAR_PLANE = 0.2  # the original 3DGS rasterizer's near plane
NEAR_PLANE_PER_SIZE = 0.02  # fitted near plane per unit of the scene's robust diagonal
MIN_NEAR_PLANE = 1e-9
SH_COEFFS_FOR_DEGREE = {0: 1, 1: 4, 2: 9, 3: 16}
DEGREE_FOR_SH_COEFFS = {k: d for d, k in SH_COEFFS_FOR_DEGREE.items()}
ARRAY_FIELDS = ("means", "scales", "rotations", "opacities", "sh")
VALIDATION_BLOCK = 1 << 18  # Gaussians validated at a time by from_arrays


def activate_scales(log_scales: Any) -> Any:
    """exp: stored log-scales to scales (the one definition; shaders/preprocess.comp has its own).

    A numpy array gives float32; a torch tensor stays a tensor (differentiable, on its device).
    """
    if isinstance(log_scales, np.ndarray):
        return np.exp(log_scales.astype(np.float32))
    return log_scales.exp()


def activate_opacities(logits: Any) -> Any:
    """sigmoid: stored logits to opacities (the one definition; the shader has its own).

    A numpy array gives float32 (computed in float64); a torch tensor stays a tensor.
    """
    if isinstance(logits, np.ndarray):
        return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
    return logits.sigmoid()


def robust_bounds(means: np.ndarray, quantile: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """([3] lo, [3] hi) float32 bounds of [N, 3] centres ignoring the outer `quantile` per side."""
    lo, hi = np.quantile(means, [quantile, 1.0 - quantile], axis=0)
    return lo.astype(np.float32), hi.astype(np.float32)


def fitted_near_plane(lo: np.ndarray, hi: np.ndarray) -> float:
    """The near plane for a scene whose robust centre bounds are [lo, hi] (`near_plane` 0).

    2 % of the bounds' diagonal, so that small scenes can be looked at from close by, but never
    above the original rasterizer's 0.2, so that COLMAP-scale scenes (10 units and more) render as
    there.
    """
    size = float(np.linalg.norm(np.asarray(hi, np.float64) - np.asarray(lo, np.float64)))
    size = size if np.isfinite(size) else 0.0
    return min(ORIGINAL_NEAR_PLANE, max(NEAR_PLANE_PER_SIZE * size, MIN_NEAR_PLANE))


class DroppedGaussiansWarning(UserWarning):
    """Gaussians with non-finite values or zero-length quaternions were dropped."""


@dataclass(frozen=True, eq=False)
class GaussianScene:
    """N 3D Gaussians with activated parameters, all float32 and C-contiguous.

    Attributes:
        means: [N, 3] float32 centres in world space.
        scales: [N, 3] float32 standard deviations along the local axes (exp already applied).
        rotations: [N, 4] float32 unit quaternions (w, x, y, z).
        opacities: [N] float32 in [0, 1] (sigmoid already applied).
        sh: [N, K, 3] float32 spherical-harmonic coefficients, K = (degree + 1)^2; sh[:, 0] is DC.
        source: where the scene came from (a path or a generator name).
        cameras: camera presets that came with the scene (e.g. an INRIA cameras.json).
        log_scales: [N, 3] float32 pre-activation scales exactly as a file stored them, or None.
        opacity_logits: [N] float32 pre-activation opacities exactly as a file stored them, or None.
            Writers use these two when they still match the activated arrays, so that
            write -> read is bit-exact (exp/log and sigmoid/logit do not round-trip in float32).
        file_format: the format of the file it was read from, with its version where the format
            has one ("INRIA 3DGS .ply", "Niantic .spz v3 (gzip)"); "" for a scene made in memory.
        points: [P, 3] float32 SfM points that came with the scene (a training output's
            input.ply, a COLMAP points3D), shown as dots; None when none came.
        streamed: the streamed SOG index (lod-meta.json) whose coarsest level this scene is:
            viewers stream the finer levels from it (viewer.stream); None for other scenes.
    """

    means: np.ndarray
    scales: np.ndarray
    rotations: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray
    source: str = "<memory>"
    cameras: tuple[Camera, ...] = field(default=())
    log_scales: np.ndarray | None = None
    opacity_logits: np.ndarray | None = None
    file_format: str = ""
    points: np.ndarray | None = None
    streamed: str | None = None

    def __post_init__(self) -> None:
        n = self.means.shape[0] if self.means.ndim == 2 else -1
        expected = {
            "means": (n, 3),
            "scales": (n, 3),
            "rotations": (n, 4),
            "opacities": (n,),
        }
        for name, shape in expected.items():
            array = getattr(self, name)
            if array.shape != shape or array.dtype != np.float32:
                raise SceneError(
                    self.source, f"{name} must be float32 {shape}, got {array.dtype} {array.shape}"
                )
        if (
            self.sh.ndim != 3
            or self.sh.shape[0] != n
            or self.sh.shape[2] != 3
            or self.sh.shape[1] not in DEGREE_FOR_SH_COEFFS
            or self.sh.dtype != np.float32
        ):
            raise SceneError(
                self.source,
                f"sh must be float32 [N, K, 3] with K in 1, 4, 9, 16, got {self.sh.dtype} "
                f"{self.sh.shape}",
            )
        for name in ARRAY_FIELDS:
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name)))
        for name, shape in (("log_scales", (n, 3)), ("opacity_logits", (n,))):
            raw = getattr(self, name)
            if raw is not None and (raw.shape != shape or raw.dtype != np.float32):
                raise SceneError(self.source, f"{name} must be float32 {shape}, got {raw.shape}")

    @classmethod
    def from_arrays(
        cls,
        means: np.ndarray,
        scales: np.ndarray,
        rotations: np.ndarray,
        opacities: np.ndarray,
        sh: np.ndarray,
        source: str = "<memory>",
        cameras: Sequence[Camera] = (),
        log_scales: np.ndarray | None = None,
        opacity_logits: np.ndarray | None = None,
    ) -> GaussianScene:
        """Build a validated scene from arrays of any float dtype (activated values).

        Rows with NaN/Inf values or zero-length quaternions are dropped with one
        `DroppedGaussiansWarning` that counts them; quaternions whose norm is off 1 by more
        than 1e-6 are normalised (the others are kept bit-exact).

        Raises:
            SceneError: on an empty scene, or when no Gaussian survives validation.
        """
        arrays = [np.asarray(a, dtype=np.float32) for a in (means, scales, rotations, opacities)]
        sh = np.asarray(sh, dtype=np.float32)
        raw_inputs = (log_scales, opacity_logits)
        raws = [None if r is None else np.asarray(r, np.float32) for r in raw_inputs]
        if arrays[0].shape[0] == 0:
            raise SceneError(source, "the scene contains no Gaussians")
        n = arrays[0].shape[0]
        finite = np.ones(n, dtype=bool)
        norms = np.empty(n, dtype=np.float64)
        for lo in range(0, n, VALIDATION_BLOCK):  # in blocks: the temporaries stay small
            hi = min(n, lo + VALIDATION_BLOCK)
            for a in (*arrays, sh):
                block = np.isfinite(a[lo:hi])
                if not block.all():  # rows only where one is not finite (5x faster than per row)
                    finite[lo:hi] &= block.reshape(hi - lo, -1).all(axis=1)
            norms[lo:hi] = np.linalg.norm(arrays[2][lo:hi].astype(np.float64), axis=1)
        good = finite & (norms > 1e-12)
        dropped = int(n - good.sum())
        if dropped == n:
            raise SceneError(source, f"all {n} Gaussians hold NaN/Inf or zero-length quaternions")
        if dropped:
            warnings.warn(
                f"{source}: dropped {dropped} of {n} Gaussians with NaN/Inf values or "
                "zero-length quaternions",
                DroppedGaussiansWarning,
                stacklevel=2,
            )
            arrays = [a[good] for a in arrays]
            sh = sh[good]
            norms = norms[good]
            raws = [None if r is None else r[good] for r in raws]
        off_unit = np.abs(norms - 1.0) > 1e-6
        if off_unit.any():
            arrays[2] = arrays[2].copy()
            arrays[2][off_unit] = arrays[2][off_unit] / norms[off_unit, None]
        means_, scales_, rotations_, opacities_ = arrays
        return cls(
            means_,
            scales_,
            rotations_,
            opacities_,
            sh,
            source=source,
            cameras=tuple(cameras),
            log_scales=raws[0],
            opacity_logits=raws[1],
        )

    @property
    def count(self) -> int:
        """Number of Gaussians N."""
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        """Spherical-harmonics degree 0..3."""
        return DEGREE_FOR_SH_COEFFS[self.sh.shape[1]]

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounds of the centres: ([3] min, [3] max) float32.

        Computed once, as `robust_bounds` (the panel reads them every UI frame: a min and max
        over every centre cost 2 ms at 24k Gaussians); copies are returned.
        """
        cache = self.__dict__.get("_bounds")  # frozen: no attribute assignment
        if cache is None:
            cache = self.__dict__["_bounds"] = (self.means.min(axis=0), self.means.max(axis=0))
        return cache[0].copy(), cache[1].copy()

    @property
    def nbytes(self) -> int:
        """Host memory held by the per-Gaussian arrays."""
        return sum(getattr(self, name).nbytes for name in ARRAY_FIELDS)

    def robust_bounds(self, quantile: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the centres ignoring the outer `quantile` on each side (for framing).

        Computed once per quantile (loading a scene asks for them several times, and on millions
        of Gaussians each quantile costs a noticeable fraction of a second); copies are returned.
        """
        cache = self.__dict__.setdefault("_robust_bounds", {})  # frozen: no attribute assignment
        if quantile not in cache:
            cache[quantile] = robust_bounds(self.means, quantile)
        lo, hi = cache[quantile]
        return lo.copy(), hi.copy()

    def fitted_near_plane(self) -> float:
        """The near plane that `near_plane` 0 stands for with this scene (`fitted_near_plane`)."""
        return fitted_near_plane(*self.robust_bounds())

    def subset(self, keep: np.ndarray) -> GaussianScene:
        """The Gaussians selected by a boolean mask or index array, same metadata."""
        picked = {name: getattr(self, name)[keep] for name in ARRAY_FIELDS}
        for name in ("log_scales", "opacity_logits"):
            raw = getattr(self, name)
            picked[name] = None if raw is None else raw[keep]
        return dataclasses.replace(self, **picked, streamed=None)

    def stored_log_scales(self) -> np.ndarray:
        """[N, 3] float32 log-scales to write: the file's own values while they still match."""
        raw = self.log_scales
        if raw is not None and np.array_equal(activate_scales(raw), self.scales):
            return raw
        return np.log(self.scales.astype(np.float64)).astype(np.float32)

    def stored_opacity_logits(self) -> np.ndarray:
        """[N] float32 opacity logits to write: the file's own values while they still match."""
        if self.opacity_logits is not None and np.array_equal(
            activate_opacities(self.opacity_logits), self.opacities
        ):
            return self.opacity_logits
        p = np.clip(self.opacities.astype(np.float64), 1e-7, 1.0 - 1e-7)
        return np.log(p / (1.0 - p)).astype(np.float32)

    def with_sh_degree(self, degree: int) -> GaussianScene:
        """A copy whose SH is truncated (or zero-padded) to `degree`."""
        k = SH_COEFFS_FOR_DEGREE[degree]
        sh = np.zeros((self.count, k, 3), dtype=np.float32)
        common = min(k, self.sh.shape[1])
        sh[:, :common] = self.sh[:, :common]
        return dataclasses.replace(self, sh=sh)

    def to_torch(self, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
        """The arrays as torch tensors; zero-copy on the CPU (they share memory with the scene)."""
        import torch

        return {name: torch.from_numpy(getattr(self, name)).to(device) for name in ARRAY_FIELDS}
