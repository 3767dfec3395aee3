"""KHR_gaussian_splatting conventions shared by the GLB reader and writer.

From the extension's specification (Khronos glTF registry):
- a primitive of mode POINTS (0) with the extension object, whose `kernel` is "ellipse" and
  `colorSpace` e.g. "srgb_rec709_display";
- attributes POSITION (VEC3), KHR_gaussian_splatting:ROTATION (VEC4 unit quaternion in x, y, z,
  w order), :SCALE (VEC3, linear standard deviations, never negative), :OPACITY (SCALAR, after the
  sigmoid, in [0, 1]), :SH_DEGREE_0_COEF_0 (VEC3 DC) and :SH_DEGREE_l_COEF_n (n = 0..2l, VEC3
  r, g, b; a degree is present whole or not at all); COLOR_0 is an optional fallback colour.

Axes: glTF is +Y up. As splat-transform (the reference writer), a 3DGS .ply's axes are taken to
glTF's by a 180-degree rotation about Z, (x, y, z) -> (-x, -y, z); it is its own inverse, so one
function converts either way. Quaternions turn with the frame, (w, x, y, z) -> (w, -x, -y, z), and
each SH coefficient changes sign with the parity of its basis function in x plus y.
"""

from __future__ import annotations

import numpy as np

from viewer.formats.spz import SH_PARITY

EXTENSION = "KHR_gaussian_splatting"
PREFIX = EXTENSION + ":"
ROTATION = PREFIX + "ROTATION"
SCALE = PREFIX + "SCALE"
OPACITY = PREFIX + "OPACITY"
MAX_DEGREE = 3
POINTS_MODE = 0
_FLIP = np.array([-1.0, -1.0, 1.0], dtype=np.float32)  # 180 degrees about Z


def sh_name(degree: int, coefficient: int) -> str:
    """The attribute of SH coefficient `coefficient` (0..2 degree) of `degree`."""
    return f"{PREFIX}SH_DEGREE_{degree}_COEF_{coefficient}"


def sh_names(degree: int) -> list[str]:
    """The SH attributes of degrees 1..`degree`, in 3DGS coefficient order."""
    return [sh_name(d, c) for d in range(1, degree + 1) for c in range(2 * d + 1)]


def flip_axes(
    means: np.ndarray, rotations: np.ndarray, sh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, (w, x, y, z) quaternions and [N, K, 3] SH in the other axes (.ply <-> glTF)."""
    signs = np.prod(_FLIP[None, :] ** SH_PARITY, axis=1)[: sh.shape[1] - 1]  # [K - 1]
    flipped = sh.copy()
    flipped[:, 1:] *= signs[None, :, None]
    quaternions = rotations * np.array([1.0, -1.0, -1.0, 1.0], dtype=np.float32)
    return (means * _FLIP).astype(np.float32), quaternions.astype(np.float32), flipped
