"""Per-Gaussian values the heatmap mode can show, scaled to [0, 1] for the colour scale."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from viewer.scene import GaussianScene


@dataclass(frozen=True)
class HeatValues:
    """Values for the heatmap mode.

    Attributes:
        values: [N] float32 in [0, 1], the position of each Gaussian on the colour scale.
        low, high: what the two ends of the scale stand for.
    """

    values: np.ndarray
    low: str
    high: str


def normalised(values: np.ndarray, log: bool = False) -> HeatValues:
    """`values` (log10 of them with `log`) mapped from their 1%..99% range onto [0, 1]."""
    x = np.asarray(values, np.float64)
    if log:
        x = np.log10(np.maximum(x, 1e-12))
    step = max(1, x.size // 100_000)  # quantiles of a sample: fast on millions
    lo, hi = (float(q) for q in np.quantile(x[::step], [0.01, 0.99]))
    if hi <= lo:
        lo, hi = lo - 0.5, lo + 0.5
    scaled = np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    if log:
        return HeatValues(scaled, f"{10**lo:.3g}", f"{10**hi:.3g}")
    return HeatValues(scaled, f"{lo:.3g}", f"{hi:.3g}")


def heat_values(scene: GaussianScene, name: str) -> HeatValues:
    """The heatmap value `name` (see `settings.HEATMAP_SCALARS`) of every Gaussian.

    Raises:
        ValueError: for an unknown name.
    """
    if name == "opacity":
        return HeatValues(scene.opacities.astype(np.float32), "opacity 0", "1")
    if name == "size":
        heat = normalised(scene.scales.max(axis=1), log=True)
        return dataclasses.replace(heat, low=f"largest scale {heat.low}")
    raise ValueError(f"unknown heatmap value {name!r}")
