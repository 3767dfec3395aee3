"""Scene inspection in numpy: the crop box's per-Gaussian flags and parameter histograms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from viewer.render.layout import FLAG_HIDDEN
from viewer.scene import GaussianScene

HISTOGRAM_BINS = 64


@dataclass(frozen=True)
class CropBox:
    """An axis-aligned box; with `enabled`, Gaussians whose centre is outside it are hidden.

    Attributes:
        enabled: whether the box hides anything.
        lo, hi: opposite corners in world space.
    """

    enabled: bool = False
    lo: tuple[float, float, float] = (-1.0, -1.0, -1.0)
    hi: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @classmethod
    def around(cls, lo: np.ndarray, hi: np.ndarray) -> CropBox:
        """A disabled box over [lo, hi]."""
        return cls(False, tuple(float(v) for v in lo), tuple(float(v) for v in hi))


def crop_flags(means: np.ndarray, box: CropBox) -> np.ndarray:
    """[N] uint32 per-Gaussian flags: FLAG_HIDDEN where the centre lies outside an enabled box.

    Args:
        means: [N, 3] float32 Gaussian centres.
    """
    flags = np.zeros(means.shape[0], dtype=np.uint32)
    if box.enabled:
        inside = np.all((means >= np.asarray(box.lo)) & (means <= np.asarray(box.hi)), axis=1)
        flags[~inside] = FLAG_HIDDEN
    return flags


@dataclass(frozen=True)
class Histogram:
    """Counts of a value over HISTOGRAM_BINS equal bins.

    Attributes:
        label: what was counted.
        centers: [B] float64 bin centres.
        counts: [B] float64 Gaussians per bin.
        width: bin width.
    """

    label: str
    centers: np.ndarray
    counts: np.ndarray
    width: float


def histogram(label: str, values: np.ndarray, lo: float, hi: float) -> Histogram:
    """The histogram of `values` over [lo, hi] (values outside are counted in the end bins)."""
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
    counts, _ = np.histogram(np.clip(np.asarray(values, np.float64), lo, hi), bins=edges)
    return Histogram(
        label, (edges[:-1] + edges[1:]) / 2.0, counts.astype(np.float64), edges[1] - edges[0]
    )


def scene_histograms(scene: GaussianScene) -> tuple[Histogram, Histogram]:
    """Histograms of the opacities (0 to 1) and of log10 of each Gaussian's largest scale."""
    largest = np.log10(np.maximum(scene.scales.max(axis=1), 1e-12))
    lo, hi = (
        np.quantile(largest, [0.001, 0.999])
        if scene.count > 1
        else (largest[0] - 1, largest[0] + 1)
    )
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return (
        histogram("opacity", scene.opacities, 0.0, 1.0),
        histogram("log10 largest scale", largest, float(lo), float(hi)),
    )
