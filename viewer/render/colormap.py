"""The heat-map colour scale shared by the shaders (as a #define) and numpy (legends, tests).

Seventeen evenly spaced samples of matplotlib's "turbo" map, linearly interpolated; stored here
so the render package needs no matplotlib (tests/test_colormap.py checks them against it).
"""

from __future__ import annotations

import numpy as np

HEAT_COLOURS = np.array(
    [
        (0.1900, 0.0718, 0.2322),
        (0.2511, 0.2524, 0.6337),
        (0.2763, 0.4212, 0.8912),
        (0.2586, 0.5796, 0.9988),
        (0.1584, 0.7355, 0.9231),
        (0.0927, 0.8655, 0.7623),
        (0.1966, 0.9490, 0.5947),
        (0.4278, 0.9942, 0.3857),
        (0.6436, 0.9900, 0.2336),
        (0.8047, 0.9245, 0.2046),
        (0.9330, 0.8124, 0.2267),
        (0.9931, 0.6741, 0.2035),
        (0.9836, 0.4929, 0.1285),
        (0.9211, 0.3149, 0.0548),
        (0.8161, 0.1846, 0.0181),
        (0.6645, 0.0844, 0.0042),
        (0.4796, 0.0158, 0.0106),
    ],
    dtype=np.float32,
)  # [17, 3] RGB from low (dark blue) to high (dark red)


def heat_colour(t: np.ndarray) -> np.ndarray:
    """[..., 3] float32 colours of values t (clamped to [0, 1]), as colormap.glsl computes them."""
    x = np.clip(np.asarray(t, np.float32), 0.0, 1.0) * (len(HEAT_COLOURS) - 1)
    lo = np.minimum(np.floor(x).astype(np.int64), len(HEAT_COLOURS) - 2)
    f = (x - lo)[..., None]
    return (HEAT_COLOURS[lo] * (1.0 - f) + HEAT_COLOURS[lo + 1] * f).astype(np.float32)


def glsl_table() -> str:
    """HEAT_COLOURS as a GLSL array constructor."""
    entries = ", ".join(f"vec3({r:.4f}, {g:.4f}, {b:.4f})" for r, g, b in HEAT_COLOURS)
    return f"vec3[{len(HEAT_COLOURS)}]({entries})"
