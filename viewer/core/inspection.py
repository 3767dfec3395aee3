"""Scene inspection in numpy: the crop box's flags, a picked Gaussian's parameters, histograms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.render.layout import FLAG_HIDDEN, FLAG_SELECTED, NO_GAUSSIAN
from viewer.scene import GaussianScene
from viewer.sh import C0

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
        return cls(False, _triple(lo), _triple(hi))


def _triple(values: Sequence[float] | np.ndarray) -> tuple[float, float, float]:
    """Three floats."""
    x, y, z = (float(v) for v in values)
    return x, y, z


def crop_flags(means: np.ndarray, box: CropBox) -> np.ndarray:
    """[N] uint32 per-Gaussian flags: FLAG_HIDDEN where the centre lies outside an enabled box.

    Args:
        means: [N, 3] float32 Gaussian centres.
        box: the crop box (world space, corners inclusive); a disabled one hides nothing.
    """
    flags = np.zeros(means.shape[0], dtype=np.uint32)
    if box.enabled:
        inside = np.all((means >= np.asarray(box.lo)) & (means <= np.asarray(box.hi)), axis=1)
        flags[~inside] = FLAG_HIDDEN
    return flags


@dataclass(frozen=True)
class GaussianDetails:
    """One Gaussian's parameters, as the panel shows a picked one.

    Attributes:
        index: its row in the scene. position: [3] world centre. scale: [3] standard deviations.
        rotation: [4] unit quaternion (w, x, y, z). opacity: in [0, 1].
        colour: [3] RGB of the degree-0 (DC) term alone, C0 * dc + 0.5.
        weight: its alpha * T at the picked pixel.
    """

    index: int
    position: np.ndarray
    scale: np.ndarray
    rotation: np.ndarray
    opacity: float
    colour: np.ndarray
    weight: float = 0.0


def gaussian_details(scene: GaussianScene, index: int, weight: float = 0.0) -> GaussianDetails:
    """The parameters of Gaussian `index` of `scene`."""
    return GaussianDetails(
        index,
        scene.means[index].copy(),
        scene.scales[index].copy(),
        scene.rotations[index].copy(),
        float(scene.opacities[index]),
        scene.sh[index, 0] * np.float32(C0) + np.float32(0.5),
        weight,
    )


def selection_flags(count: int, indices: list[int]) -> np.ndarray:
    """[count] uint32 with FLAG_SELECTED at `indices` (drawn highlighted)."""
    flags = np.zeros(count, dtype=np.uint32)
    flags[np.asarray(indices, dtype=np.int64)] = FLAG_SELECTED
    return flags


def window_to_pixel(
    x: float, y: float, window: tuple[int, int], framebuffer: tuple[int, int]
) -> tuple[int, int]:
    """The framebuffer pixel under window coordinates (x, y) (HiDPI: the two sizes differ)."""
    px = int(x * framebuffer[0] / max(window[0], 1))
    py = int(y * framebuffer[1] / max(window[1], 1))
    return min(max(px, 0), framebuffer[0] - 1), min(max(py, 0), framebuffer[1] - 1)


def surface_depth(record: np.void, camera: Camera, means: np.ndarray) -> float | None:
    """Camera depth of the surface at a pixel; None where nothing is drawn.

    The surface is where the pixel turns half opaque, else (never that opaque) the Gaussian
    adding most there.

    Args:
        record: the pixel's PIXEL_DTYPE record from the contributions pass.
        camera: the view the contributions pass measured.
        means: [N, 3] float32 Gaussian centres.
    """
    if record["median_depth"] > 0.0:
        return float(record["median_depth"])
    index = int(record["top_gaussian"])
    if index == NO_GAUSSIAN:
        return None
    w2c = camera.world_to_camera
    depth = float(w2c[2, :3] @ means[index] + w2c[2, 3])
    return depth if depth > 0.0 else None


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
