"""Real spherical harmonics up to degree 3, with the constants and signs of the original 3DGS.

`eval_sh` returns the raw SH sum; the renderers add 0.5 and clamp at 0 to get a colour.
"""

from __future__ import annotations

import torch

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)
MAX_DEGREE = 3


def sh_basis(dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """The (degree + 1)^2 basis functions at unit directions, in the 3DGS coefficient order.

    Args:
        dirs: [N, 3] unit directions.
        degree: 0..3.

    Returns:
        [N, (degree + 1)^2] basis values, same dtype as `dirs`.
    """
    if not 0 <= degree <= MAX_DEGREE:
        raise ValueError(f"SH degree must be 0..{MAX_DEGREE}, got {degree}")
    x, y, z = dirs.unbind(-1)  # [N] each
    basis = [torch.full_like(x, C0)]
    if degree >= 1:
        basis += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        basis += [
            C2[0] * x * y,
            C2[1] * y * z,
            C2[2] * (2.0 * zz - xx - yy),
            C2[3] * x * z,
            C2[4] * (xx - yy),
        ]
    if degree >= 3:
        basis += [
            C3[0] * y * (3.0 * xx - yy),
            C3[1] * x * y * z,
            C3[2] * y * (4.0 * zz - xx - yy),
            C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            C3[4] * x * (4.0 * zz - xx - yy),
            C3[5] * z * (xx - yy),
            C3[6] * x * (xx - 3.0 * yy),
        ]
    return torch.stack(basis, dim=-1)


def eval_sh(sh: torch.Tensor, dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """The raw SH sum (before + 0.5 and clamping) of each Gaussian towards a direction.

    Args:
        sh: [N, K, 3] coefficients with K >= (degree + 1)^2; sh[:, 0] is the DC term.
        dirs: [N, 3] unit directions (from the camera towards the Gaussian).
        degree: highest degree used, 0..3; higher coefficients in `sh` are ignored.

    Returns:
        [N, 3] per-channel SH value; differentiable in `sh` and `dirs`.
    """
    k = (degree + 1) ** 2
    if sh.shape[1] < k:
        raise ValueError(f"degree {degree} needs {k} SH coefficients, got {sh.shape[1]}")
    basis = sh_basis(dirs, degree)  # [N, k]
    return torch.einsum("nk,nkc->nc", basis, sh[:, :k])
