"""How much of a splat frame one UI frame draws, so that the UI keeps its rate on a slow device.

The window's loop draws the UI every frame; the splats' image is the last finished frame. A
device that draws a whole splat frame within a UI frame's time draws it whole, each UI frame.
Where a splat frame takes longer (software GL: hundreds of milliseconds at 1280x720), each UI
frame draws as many parts of the next one (`Raster.parts`: splats in depth order, or rows of
tiles) as fit in the time the UI's own work leaves of its frame, learning from each step what a
part costs. Pure arithmetic on times: unit-tested without GL.
"""

from __future__ import annotations

from dataclasses import dataclass

UI_RATE = 40.0  # UI frames per second aimed at: 30 or more on a noisy machine
MIN_UI_RATE = 15.0  # ... and no lower under a frame-rate target (`ui_frame_ms`)
MIN_STEP_MS = 3.0  # the least splat work a UI frame does, whatever the UI's own work costs
FIRST_PARTS = 256  # parts of the first step drawn in parts (nothing learned yet)
LEARNING = 0.5  # weight of the newest observation in the running estimates
WHOLE_SHARE = 0.5  # back to whole frames when one costs less than this share of the budget
MAX_GROWTH = 4.0  # a step draws at most this many times the parts of the one before


def _learned(estimate: float, observed: float) -> float:
    """A running estimate moved towards a new observation by LEARNING."""
    return LEARNING * observed + (1.0 - LEARNING) * estimate


def ui_frame_ms(target_fps: float | None) -> float:
    """The UI frame's time aimed at: 1000 / UI_RATE, or the LOD frame-rate target's period.

    The target's period is kept within MIN_UI_RATE and UI_RATE. Under the target each UI frame
    should show a new splat frame drawn whole: a 40 FPS UI would split frames that fit 30 FPS
    with the UI's own work (tens of milliseconds of it on software GL), and new images would
    appear at a fraction of the target. Likewise a 20 FPS target under a 30 FPS UI: a splat
    frame spanning two UI frames misses it, so the controller shrank the frame to fit one,
    to its floors, and the window ran at 30 FPS with the least detail (design log).
    """
    if target_fps is None:
        return 1e3 / UI_RATE
    return 1e3 / min(max(target_fps, MIN_UI_RATE), UI_RATE)


@dataclass
class FramePacer:
    """The parts each UI frame draws of the splat frame in progress.

    Attributes:
        ui_ms: the UI frame's time aimed at (1000 / UI_RATE).
        ui_work_ms: running estimate of a UI frame's time outside the splat steps.
        ms_per_part: running estimate of a raster part's time, None before a step in parts.
        whole: whether frames are drawn whole, one per UI frame (until one costs more than the
            budget; again once one costs less than WHOLE_SHARE of it).
        last_count: the parts the last step in parts drew.
        prepare_ms: running estimate of preparing a frame (the first step's work before parts).
    """

    ui_ms: float = 1e3 / UI_RATE
    ui_work_ms: float = 0.0
    ms_per_part: float | None = None
    whole: bool = True
    last_count: int = FIRST_PARTS
    prepare_ms: float = 0.0

    @property
    def budget_ms(self) -> float:
        """Splat work a UI frame may do: the UI frame's time less the UI's own work."""
        return max(self.ui_ms - self.ui_work_ms, MIN_STEP_MS)

    def count(self, preparing: bool = False) -> int | None:
        """Parts the next step draws; None: the whole frame.

        `preparing`: the step prepares the frame first (its LOD cut, preprocess, sort and
        binning, which are not split): the parts get what that leaves of the budget.
        """
        if self.whole:
            return None
        if self.ms_per_part is None:
            return FIRST_PARTS
        budget = self.budget_ms - (self.prepare_ms if preparing else 0.0)
        fit = int(budget / max(self.ms_per_part, 1e-6))
        return max(1, min(fit, int(self.last_count * MAX_GROWTH)))

    def prepared(self, prepare_ms: float) -> None:
        """Learn what preparing a frame costs from a step that spent `prepare_ms` on it."""
        self.prepare_ms = _learned(self.prepare_ms, prepare_ms)

    def stepped(self, parts: int, raster_ms: float) -> None:
        """Learn from a step in parts: it drew `parts` parts in `raster_ms`."""
        if parts <= 0:
            return
        observed = raster_ms / parts
        known = self.ms_per_part
        self.ms_per_part = observed if known is None else _learned(known, observed)
        self.last_count = parts

    def ui_frame(self, frame_ms: float, splat_ms: float) -> None:
        """Learn the UI's own work from a UI frame of `frame_ms` that spent `splat_ms` on splats.

        Only frames that follow one another without waiting for input count.
        """
        observed = max(frame_ms - splat_ms, 0.0)
        self.ui_work_ms = _learned(self.ui_work_ms, observed)

    def frame_done(self, work_ms: float) -> None:
        """A splat frame was finished after `work_ms` of steps: draw whole or in parts next."""
        if self.whole and work_ms > self.budget_ms:
            self.whole = False
        elif not self.whole and work_ms < WHOLE_SHARE * self.budget_ms:
            self.whole = True
