"""The frame-rate target: while the camera moves, an LOD budget and a render scale that hold it.

Pure Python, fed by measured frame times (the window's frame period, or the bench's frame wall
time). The state is one number, the share of full work w in [w_min, 1]; a frame is assumed to
cost about scale^2 x budget share of a full one, and w is split evenly between the two
(scale^2 = share = sqrt(w)) until one reaches its floor, after which the other takes the
rest. Where a frame's cost follows its pixels rather than its splats (`pixels_first`: the cpu
backend) the render scale alone takes w down to SCALE_KNEE (the budget only making up for the
scale's rounding), and the even split the rest: there a 25 % budget saves about what a 0.5
render scale saves, at 27 dB against 33-37, while below scale 0.5 the fixed passes make the
scale save less and the two do about as well (design log, "The frame-rate target where frames
cost pixels").
Each measured frame moves w by (aim / measured)^GAIN (at most x2 or /2 per frame), so fixed
costs that do not shrink with w are found by feedback rather than modelled; the aim is
HEADROOM of the target's period, since frames that settle at exactly the period fall below the
rate about half the time (a machine's frame times vary by 5-15 %). Once the
camera has been still for `still_after` seconds the controller asks for full detail (scale 1,
no budget); w is kept, so the next motion starts where the last one ended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from viewer.render.frame_inputs import LodCut
from viewer.settings import LodSettings

HEADROOM = 0.9  # frames aim at this share of the target's period, so noise stays above the rate
GAIN = 0.7  # how much of the measured error one frame corrects (log domain)
MAX_STEP = 2.0  # w changes by at most this factor per frame
STILL_AFTER = 0.1  # seconds without camera motion before full detail
MIN_SHARE = 0.1  # the budget never drops below this share of the Gaussians...
MIN_BUDGET = 1000  # ... nor below this many splats
SCALE_STEPS = 20  # render scales are multiples of 1 / this (or the floor)
SCALE_KNEE = 0.5  # pixels first: the scale alone down to this, then scale and budget evenly


@dataclass(frozen=True)
class Detail:
    """How much one frame draws under the frame-rate target: its render scale and LOD budget.

    Attributes:
        scale: render scale (fraction of the output's width and height).
        budget: most LOD nodes drawn, or 0 for full detail (the tau cut).
    """

    scale: float = 1.0
    budget: int = 0

    @property
    def full(self) -> bool:
        """Whether this is full detail (full resolution, the tau cut)."""
        return self.scale >= 1.0 and self.budget == 0


class FrameRateController:
    """Chooses each frame's render scale and LOD budget to hold `target_fps` while moving.

    Args:
        target_fps: the frame rate to hold while the camera moves.
        gaussians: the scene's Gaussians (the budget is a share of them).
        min_scale: the smallest render scale allowed (0 < min_scale <= 1).
        still_after: seconds without motion after which full detail is drawn.
        pixels_first: lower the render scale to SCALE_KNEE before the budget (frames that
            cost pixels), instead of both evenly from the start.
    """

    def __init__(
        self,
        target_fps: float,
        gaussians: int,
        min_scale: float = 0.25,
        still_after: float = STILL_AFTER,
        pixels_first: bool = False,
    ) -> None:
        if not target_fps > 0:
            raise ValueError(f"the target frame rate must be positive, got {target_fps}")
        if not 0 < min_scale <= 1:
            raise ValueError(f"the smallest render scale must be in (0, 1], got {min_scale}")
        self.target_fps = target_fps
        self.gaussians = max(int(gaussians), 1)
        self.min_scale = min_scale
        self.still_after = still_after
        self.pixels_first = pixels_first
        self.min_share = min(1.0, max(MIN_SHARE, MIN_BUDGET / self.gaussians))
        self.min_work = min_scale**2 * self.min_share
        self.work = 1.0
        self._last_motion = -math.inf

    @property
    def target_seconds(self) -> float:
        """The frame time aimed at: HEADROOM of the target's period."""
        return HEADROOM / self.target_fps

    def observe(self, seconds: float) -> None:
        """Take the measured time of a frame drawn at the moving detail (`moving_detail`)."""
        if not seconds > 0:
            return
        ratio = (self.target_seconds / seconds) ** GAIN
        ratio = min(max(ratio, 1.0 / MAX_STEP), MAX_STEP)
        self.work = min(max(self.work * ratio, self.min_work), 1.0)

    def moving_detail(self) -> Detail:
        """The scale and budget of the current work share."""
        knee = max(SCALE_KNEE, self.min_scale) ** 2 if self.pixels_first else 1.0
        if self.work >= knee:  # pixels first, the scale alone (pixels: scale^2)
            pixels, share = self.work, 1.0
        else:  # below the knee, both evenly (share: of the Gaussians)
            share = math.sqrt(self.work / knee)
            pixels = knee * share
        if pixels < self.min_scale**2:  # the scale at its floor: the budget takes the rest
            pixels = self.min_scale**2
            share = self.work / pixels
        if share < self.min_share:  # the budget at its floor: the scale takes the rest
            share = self.min_share
            pixels = max(self.work / share, self.min_scale**2)
        # the scale in steps of 1 / SCALE_STEPS (images are not made again for every small
        # change), the budget making up for the rounding
        scale = min(max(round(math.sqrt(pixels) * SCALE_STEPS) / SCALE_STEPS, self.min_scale), 1.0)
        share = min(max(self.work / scale**2, self.min_share), 1.0)
        whole = share >= 1.0 - 1e-9  # the tau cut (the steps are not exact in binary)
        if scale >= 1.0 and whole:
            return Detail()
        return Detail(scale=scale, budget=0 if whole else max(1, round(share * self.gaussians)))

    def detail(self, moving: bool, now: float) -> Detail:
        """The detail of a frame at time `now` (seconds), given whether the camera moved.

        Full detail once the camera has been still for `still_after` seconds.
        """
        if moving:
            self._last_motion = now
        if now - self._last_motion >= self.still_after:
            return Detail()
        return self.moving_detail()

    def settling(self, now: float) -> bool:
        """Whether a still camera is still waiting for its full-detail frame."""
        return now - self._last_motion < self.still_after


def frame_cut(settings: LodSettings, detail: Detail = Detail()) -> tuple[LodCut | None, float]:
    """(the LOD cut, the render scale) of a frame under `settings`.

    Args:
        settings: the LOD settings (disabled: no cut, full scale).
        detail: the frame-rate target's choice for this frame (cut `target_fps`; full
            detail draws the tau cut at full resolution, as does every other frame without
            the controller, e.g. a headless render).
    """
    if not settings.enabled:
        return None, 1.0
    width = settings.blend_width if settings.blend else 1.0
    if settings.cut == "budget":
        return LodCut(tau=settings.tau, budget=settings.budget, blend_width=width), 1.0
    if settings.cut == "target_fps":
        return LodCut(tau=settings.tau, budget=detail.budget, blend_width=width), detail.scale
    return LodCut(tau=settings.tau, blend_width=width), 1.0
