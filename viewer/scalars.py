"""Per-Gaussian values the heatmap mode can show, scaled to [0, 1] for the colour scale."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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
    """`values` (log10 of them with `log`) mapped from their 1%..99% range onto [0, 1].

    With `log` the range is that of the positive values; zeros (e.g. scores of Gaussians no view
    saw) go to the cold end.
    """
    x = np.asarray(values, np.float64)
    sample = x[:: max(1, x.size // 100_000)]  # quantiles of a sample: fast on millions
    if log:
        sample = np.log10(sample[sample > 0]) if (sample > 0).any() else np.zeros(1)
        x = np.log10(np.maximum(x, 1e-300))
    lo, hi = (float(q) for q in np.quantile(sample, [0.01, 0.99]))
    if hi <= lo:
        lo, hi = lo - 0.5, lo + 0.5
    scaled = np.clip((x - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    if log:
        return HeatValues(scaled, f"{10**lo:.3g}", f"{10**hi:.3g}")
    return HeatValues(scaled, f"{lo:.3g}", f"{hi:.3g}")


def heat_values(
    scene: GaussianScene, name: str, scores: Mapping[str, np.ndarray] | None = None
) -> HeatValues:
    """The heatmap value `name` (see `settings.HEATMAP_SCALARS`) of every Gaussian.

    Args:
        scene: the scene whose Gaussians are valued.
        name: "opacity", "size", or the name of a pruning score in `scores`.
        scores: pruning scores by name ([N] each), for the names that are one.

    Raises:
        ValueError: for an unknown name, or a score missing from `scores`.
    """
    if name == "opacity":
        return HeatValues(scene.opacities.astype(np.float32), "opacity 0", "1")
    if name == "size":
        heat = normalised(scene.scales.max(axis=1), log=True)
        return dataclasses.replace(heat, low=f"largest scale {heat.low}")
    if scores is not None and name in scores:
        heat = normalised(scores[name], log=True)
        return dataclasses.replace(heat, low=f"{name} {heat.low}")
    raise ValueError(f"unknown heatmap value {name!r} (or its scores were not computed)")
