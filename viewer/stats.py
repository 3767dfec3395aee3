"""One stats object per frame, read by both the timing overlay and the benchmark."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

PASSES = ("lod", "preprocess", "sort", "raster", "resolve")


@dataclass(frozen=True)
class FrameStats:
    """What one frame cost and drew.

    Attributes:
        frame: index of the frame these numbers belong to (GPU timer queries and counters are
            read a few frames late so they never stall; `frame` says which one).
        clock: "gl-timer" (GPU timer queries) or "finish+wall" (passes bracketed by glFinish).
        pass_ms: device time per pass (milliseconds), by pass name.
        cpu_ms: host time spent issuing each pass (milliseconds).
        frame_ms: host wall time of the whole render call (milliseconds).
        total: Gaussians in the scene. visible: splats after culling. pairs: (tile, splat) pairs
            of the tiles backend (0 for quads). dropped: splats or pairs lost to full buffers.
        render_scale: fraction of the output's width and height the splats were rendered at
            (with foveated resolution the inset's; the periphery's is that x periphery_scale,
            and the counters are the whole frame's pass, the inset's time its "inset" pass).
        lod_drawn: level-of-detail nodes the cut drew (0: no LOD cut this frame).
        lod_tau: the cut's threshold in pixels (the budget cut finds its own).
        lod_levels: nodes drawn per level (0: the scene's own Gaussians).
        fovea_culled: Gaussians in view that foveation left out (weight 0 where they reach).
        saturated: share of the frame's pixels that saturated (compositing stopped before T
            fell below 1e-4); cpu backend only (0 with the others).
        saturation_depth: mean splats blended into a saturated pixel, the stopping one
            included; cpu backend only (0 with the others, or when no pixel saturated).
    """

    frame: int
    clock: str
    pass_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms: dict[str, float] = field(default_factory=dict)
    frame_ms: float = 0.0
    total: int = 0
    visible: int = 0
    pairs: int = 0
    dropped: int = 0
    render_scale: float = 1.0
    lod_drawn: int = 0
    lod_tau: float = 0.0
    lod_levels: tuple[int, ...] = ()
    fovea_culled: int = 0
    saturated: float = 0.0
    saturation_depth: float = 0.0

    @property
    def gpu_ms(self) -> float:
        """Sum of the per-pass device times."""
        return float(sum(self.pass_ms.values()))


def summarize(values: Iterable[float]) -> dict[str, float]:
    """mean, p50, p90, p99 and max of a series (empty series: all NaN)."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        return dict.fromkeys(("mean", "p50", "p90", "p99", "max"), float("nan"))
    p50, p90, p99 = np.percentile(array, [50, 90, 99])
    return {
        "mean": float(array.mean()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(array.max()),
    }


class StatsHistory:
    """The last `capacity` frames' stats, for graphs and summaries."""

    def __init__(self, capacity: int = 600) -> None:
        self.frames: deque[FrameStats] = deque(maxlen=capacity)

    def add(self, stats: FrameStats | None) -> None:
        """Record one frame (None, for a frame whose numbers are not in yet, is ignored)."""
        if stats is not None:
            self.frames.append(stats)

    def tail(self, count: int) -> StatsHistory:
        """The newest `count` frames (or all there are) as a history of their own."""
        recent = StatsHistory(self.frames.maxlen or count)
        recent.frames.extend(list(self.frames)[-count:])
        return recent

    @property
    def latest(self) -> FrameStats | None:
        """The newest frame, if any."""
        return self.frames[-1] if self.frames else None

    def frame_ms(self) -> np.ndarray:
        """[n] float64 host frame times."""
        return np.array([f.frame_ms for f in self.frames], dtype=np.float64)

    def pass_means(self) -> dict[str, float]:
        """Mean device time per pass over the history."""
        names = {name for f in self.frames for name in f.pass_ms}
        return {
            name: float(np.mean([f.pass_ms.get(name, 0.0) for f in self.frames]))
            for name in sorted(names, key=lambda n: PASSES.index(n) if n in PASSES else 99)
        }
