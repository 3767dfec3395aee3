"""The Gaussian scene model: N Gaussians as float32 struct-of-arrays, activated parameters."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError

if TYPE_CHECKING:
    import torch

SH_COEFFS_FOR_DEGREE = {0: 1, 1: 4, 2: 9, 3: 16}
DEGREE_FOR_SH_COEFFS = {k: d for d, k in SH_COEFFS_FOR_DEGREE.items()}
ARRAY_FIELDS = ("means", "scales", "rotations", "opacities", "sh")


class DroppedGaussiansWarning(UserWarning):
    """Some Gaussians of a file held non-finite values or zero-length quaternions and were dropped."""


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
    """

    means: np.ndarray
    scales: np.ndarray
    rotations: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray
    source: str = "<memory>"
    cameras: tuple[Camera, ...] = field(default=())

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
    ) -> GaussianScene:
        """Build a validated scene from raw arrays (any float dtype).

        Rows with NaN/Inf values or zero-length quaternions are dropped with one
        `DroppedGaussiansWarning` that counts them; quaternions are normalised.

        Raises:
            SceneError: on an empty scene, or when no Gaussian survives validation.
        """
        arrays = [np.asarray(a, dtype=np.float32) for a in (means, scales, rotations, opacities)]
        sh = np.asarray(sh, dtype=np.float32)
        if arrays[0].shape[0] == 0:
            raise SceneError(source, "the scene contains no Gaussians")
        n = arrays[0].shape[0]
        finite = np.ones(n, dtype=bool)
        for a in (*arrays, sh):
            finite &= np.isfinite(a.reshape(n, -1)).all(axis=1)
        norms = np.linalg.norm(arrays[2].astype(np.float64), axis=1)
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
        arrays[2] = (arrays[2] / norms[:, None]).astype(np.float32)
        return cls(*arrays, sh, source=source, cameras=tuple(cameras))

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
        """Axis-aligned bounds of the centres: ([3] min, [3] max) float32."""
        return self.means.min(axis=0), self.means.max(axis=0)

    @property
    def nbytes(self) -> int:
        """Host memory held by the per-Gaussian arrays."""
        return sum(getattr(self, name).nbytes for name in ARRAY_FIELDS)

    def robust_bounds(self, quantile: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the centres ignoring the outer `quantile` on each side (for framing)."""
        lo, hi = np.quantile(self.means, [quantile, 1.0 - quantile], axis=0)
        return lo.astype(np.float32), hi.astype(np.float32)

    def subset(self, keep: np.ndarray) -> GaussianScene:
        """The Gaussians selected by a boolean mask or index array, same metadata."""
        return dataclasses.replace(self, **{name: getattr(self, name)[keep] for name in ARRAY_FIELDS})

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

    @classmethod
    def from_torch(
        cls, tensors: dict[str, torch.Tensor], source: str = "<torch>", cameras: Sequence[Camera] = ()
    ) -> GaussianScene:
        """A scene from float32 torch tensors, trusted as already activated and normalised.

        Zero-copy for contiguous CPU tensors: the scene's arrays share their memory.
        """
        arrays = {name: tensors[name].detach().cpu().contiguous().numpy() for name in ARRAY_FIELDS}
        return cls(**arrays, source=source, cameras=tuple(cameras))
