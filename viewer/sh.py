"""Real spherical harmonics up to degree 3, with the constants and signs of the original 3DGS.

`eval_sh` returns the raw SH sum; the renderers add 0.5 and clamp at 0 to get a colour. Both
functions use arithmetic only, so they serve torch (reference renderer) and numpy (scene
generation) without importing either.
"""

from __future__ import annotations

from typing import Any

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

Array = Any  # a torch tensor or a numpy array: only arithmetic is used


def sh_terms(x: Array, y: Array, z: Array, degree: int) -> list[Array]:
    """The (degree + 1)^2 basis functions at unit directions (x, y, z), in the 3DGS order.

    Works on torch tensors (differentiably) and numpy arrays alike.

    Args:
        x: [...] x components of unit directions.
        y: [...] y components, shaped like `x`.
        z: [...] z components, shaped like `x`.
        degree: 0..3.

    Returns:
        (degree + 1)^2 arrays shaped like `x`.
    """
    if not 0 <= degree <= MAX_DEGREE:
        raise ValueError(f"SH degree must be 0..{MAX_DEGREE}, got {degree}")
    terms = [x * 0.0 + C0]
    if degree >= 1:
        terms += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        terms += [
            C2[0] * x * y,
            C2[1] * y * z,
            C2[2] * (2.0 * zz - xx - yy),
            C2[3] * x * z,
            C2[4] * (xx - yy),
        ]
    if degree >= 3:
        terms += [
            C3[0] * y * (3.0 * xx - yy),
            C3[1] * x * y * z,
            C3[2] * y * (4.0 * zz - xx - yy),
            C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            C3[4] * x * (4.0 * zz - xx - yy),
            C3[5] * z * (xx - yy),
            C3[6] * x * (xx - 3.0 * yy),
        ]
    return terms


def eval_sh(sh: Array, dirs: Array, degree: int) -> Array:
    """The raw SH sum (before + 0.5 and clamping) of each Gaussian towards a direction.

    Works on torch tensors (differentiably) and numpy arrays alike.

    Args:
        sh: [N, K, 3] coefficients with K >= (degree + 1)^2; sh[:, 0] is the DC term.
        dirs: [N, 3] unit directions (from the camera towards the Gaussian).
        degree: highest degree used, 0..3; higher coefficients in `sh` are ignored.

    Returns:
        [N, 3] per-channel SH value.
    """
    k = (degree + 1) ** 2
    if sh.shape[1] < k:
        raise ValueError(f"degree {degree} needs {k} SH coefficients, got {sh.shape[1]}")
    terms = sh_terms(dirs[:, 0], dirs[:, 1], dirs[:, 2], degree)
    result = terms[0][:, None] * sh[:, 0]
    for j in range(1, k):
        result = result + terms[j][:, None] * sh[:, j]
    return result
