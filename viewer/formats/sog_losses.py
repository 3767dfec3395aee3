"""What writing a scene as SOG loses (for describe_losses)."""

from __future__ import annotations

import numpy as np

from viewer.formats.sog_meta import MAX_PALETTE
from viewer.scene import GaussianScene

ROTATION_DEGREES = 1  # 3 x 8-bit smallest three: steps of sqrt(2)/255 per component


def _position_steps(means: np.ndarray) -> tuple[float, float]:
    """Largest quantisation step of a position near the centre and at the farthest Gaussian."""
    logs = np.sign(means.astype(np.float64)) * np.log1p(np.abs(means.astype(np.float64)))
    step = float(((logs.max(axis=0) - logs.min(axis=0)) / 65535.0).max())
    return step, step * (1.0 + float(np.abs(means).max()))


def sog_losses(scene: GaussianScene) -> list[str]:
    """SOG v2: Morton order, 16-bit log positions, codebooks, 8-bit rotations, SH palette."""
    near, far = _position_steps(scene.means)
    lines = [
        "Gaussians reordered along a Morton curve of their centres",
        "positions quantised to 16 bits per axis of a log-transformed range "
        f"(steps up to {near:.3g} near the origin, {far:.3g} at the farthest Gaussian)",
        "log-scales quantised to a 256-entry codebook (k-means over all three axes)",
        "base colour (SH DC) quantised to a 256-entry codebook, opacity to 8 bits (steps of 1/255)",
        "rotations packed as 'smallest three' (3 x 8 bits: within about "
        f"{ROTATION_DEGREES} degree{'' if ROTATION_DEGREES == 1 else 's'})",
    ]
    if scene.sh_degree > 0:
        entries = min(MAX_PALETTE, scene.count)
        lines.append(
            f"SH above DC replaced by the nearest of {entries:,} palette entries (k-means), "
            "their values by a 256-entry codebook"
        )
    return lines
