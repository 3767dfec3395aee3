"""SH coefficient layouts and the DC <-> RGB conversion shared by the scene formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.sh import C0  # degree-0 SH basis constant: colour = 0.5 + C0 * dc

REST_COUNT_FOR_DEGREE = {0: 0, 1: 9, 2: 24, 3: 45}  # f_rest values per Gaussian (3 channels)
DEGREE_FOR_REST_COUNT = {count: degree for degree, count in REST_COUNT_FOR_DEGREE.items()}


def rgb_from_dc(dc: np.ndarray) -> np.ndarray:
    """Base colour of DC coefficients (not clamped): [..., 3] float32."""
    return (0.5 + C0 * dc.astype(np.float32)).astype(np.float32)


def dc_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """DC coefficients that give the base colour `rgb`: [..., 3] float32."""
    return ((rgb.astype(np.float32) - 0.5) / C0).astype(np.float32)


def degree_for_rest_count(count: int, path: str | Path) -> int:
    """SH degree for `count` f_rest values per Gaussian.

    Raises:
        SceneError: when `count` is not 0, 9, 24 or 45.
    """
    if count not in DEGREE_FOR_REST_COUNT:
        raise SceneError(
            path, f"{count} f_rest properties match no SH degree (expected 0, 9, 24 or 45)"
        )
    return DEGREE_FOR_REST_COUNT[count]


def assemble_sh(dc: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """[N, K, 3] float32 SH from [N, 3] DC and [N, K - 1, 3] higher-order coefficients."""
    n, k_rest = rest.shape[0], rest.shape[1]
    sh = np.empty((n, k_rest + 1, 3), dtype=np.float32)
    sh[:, 0] = dc
    sh[:, 1:] = rest
    return sh


def rest_from_channel_major(flat: np.ndarray) -> np.ndarray:
    """View [N, 3 (K - 1)] channel-major f_rest values as [N, K - 1, 3].

    In the INRIA layout coefficient j (1..K-1) of channel c is f_rest_{c (K - 1) + j - 1}.
    """
    n = flat.shape[0]
    return flat.reshape(n, 3, flat.shape[1] // 3).transpose(0, 2, 1)


def channel_major_rest(sh: np.ndarray) -> np.ndarray:
    """[N, 3 (K - 1)] float32 f_rest values in the INRIA channel-major order of [N, K, 3] SH."""
    return sh[:, 1:].transpose(0, 2, 1).reshape(sh.shape[0], -1)
