"""A human-readable summary of a scene: `splatscope info`."""

from __future__ import annotations

import numpy as np

from viewer.errors import quoted
from viewer.scene import GaussianScene


def _stats(name: str, values: np.ndarray) -> str:
    p1, p50, p99 = np.percentile(values, [1, 50, 99])
    low, high = values.min(), values.max()
    return (
        f"  {name:<12} min {low:.4g}  p1 {p1:.4g}  median {p50:.4g}  p99 {p99:.4g}  max {high:.4g}"
    )


def describe(scene: GaussianScene) -> str:
    """Count, SH degree, bounds, memory, property ranges and cameras of `scene`."""
    lo, hi = scene.bounds
    rlo, rhi = scene.robust_bounds()
    lines = [
        f"source       {quoted(scene.source)}",
        f"gaussians    {scene.count:,}",
        f"sh degree    {scene.sh_degree} ({scene.sh.shape[1]} coefficients per channel)",
        f"bounds       min {np.round(lo, 4).tolist()}  max {np.round(hi, 4).tolist()}",
        f"bounds 1-99% min {np.round(rlo, 4).tolist()}  max {np.round(rhi, 4).tolist()}",
        f"memory       {scene.nbytes / 2**20:.1f} MiB on the host",
        "properties",
        _stats("opacity", scene.opacities),
        _stats("scale", scene.scales.reshape(-1)),
        _stats("max scale", scene.scales.max(axis=1)),
        _stats("dc colour", (0.28209479177387814 * scene.sh[:, 0] + 0.5).reshape(-1)),
        f"cameras      {len(scene.cameras)}",
    ]
    lines += [
        f"  {i:>3} {c.name or '-'}  {c.width}x{c.height}  fov_y {c.fov_y_degrees:.1f} deg"
        for i, c in enumerate(scene.cameras[:10])
    ]
    if len(scene.cameras) > 10:
        lines.append(f"  ... and {len(scene.cameras) - 10} more")
    return "\n".join(lines)
