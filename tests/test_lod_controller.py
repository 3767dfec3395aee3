"""The frame-rate target's controller and the LOD settings -> frame cut mapping (pure Python)."""

from __future__ import annotations

import pytest

from viewer.features.lod_controller import (
    HEADROOM,
    MIN_BUDGET,
    Detail,
    FrameRateController,
    frame_cut,
)
from viewer.render.frame_inputs import LodCut
from viewer.settings import LodSettings


def simulate(controller: FrameRateController, cost, frames: int, dt_still: float = 0.0):
    """Drive the controller with a frame-cost model while the camera moves; [(detail, s)]."""
    now, out = 0.0, []
    for _ in range(frames):
        detail = controller.detail(True, now)
        seconds = cost(detail)
        controller.observe(seconds)
        out.append((detail, seconds))
        now += seconds
    return out, now


def fragment_bound(full: float, fixed: float, gaussians: int):
    """A frame costs `fixed` plus `full` scaled by the pixels and the splats drawn."""

    def cost(detail: Detail) -> float:
        share = 1.0 if detail.budget == 0 else detail.budget / gaussians
        return fixed + full * detail.scale**2 * share

    return cost


@pytest.mark.parametrize("full", [0.4, 0.1, 2.0])
def test_moving_frames_settle_at_the_target(full):
    controller = FrameRateController(30.0, 100_000, min_scale=0.1)
    frames, _ = simulate(controller, fragment_bound(full, 0.004, 100_000), 40)
    tail = [seconds for _, seconds in frames[-10:]]
    aim = HEADROOM / 30  # with room for noise: the rate is held, not hovered around
    assert all(abs(s - aim) < 0.05 / 30 for s in tail), tail
    assert all(s < 1 / 30 for s in tail), tail


def test_a_fast_machine_keeps_full_detail():
    controller = FrameRateController(30.0, 100_000)
    frames, _ = simulate(controller, fragment_bound(0.01, 0.001, 100_000), 20)
    assert all(q.full for q, _ in frames)


def test_floors_hold_when_the_target_cannot_be_met():
    controller = FrameRateController(60.0, 50_000, min_scale=0.3)
    frames, _ = simulate(controller, lambda q: 0.5, 30)  # fixed cost far above the target
    last = frames[-1][0]
    assert last.scale == pytest.approx(0.3) and last.budget == max(MIN_BUDGET, round(0.1 * 50_000))
    assert frames[0][0].full  # the first frame knows nothing yet
    for detail, _ in frames[1:]:
        assert 0.3 <= detail.scale < 1.0 and detail.budget >= 1000


def test_scale_and_budget_share_the_reduction_until_a_floor():
    controller = FrameRateController(30.0, 1_000_000, min_scale=0.25)
    controller.work = 0.25
    detail = controller.moving_detail()
    assert detail.scale == pytest.approx(0.7)  # sqrt(0.5) = 0.707 in steps of 0.05
    assert detail.budget == round(0.25 / 0.7**2 * 1_000_000)  # the budget makes up for it
    controller.work = 0.008  # the budget at its floor (10 %): the scale takes the rest
    detail = controller.moving_detail()
    assert detail.budget == 100_000 and detail.scale == pytest.approx(0.3)  # sqrt(0.08)
    controller = FrameRateController(30.0, 1_000_000, min_scale=0.5)
    controller.work = 0.04  # the scale at its floor: the budget takes the rest
    detail = controller.moving_detail()
    assert detail.scale == 0.5 and detail.budget == pytest.approx(160_000, rel=1e-6)


def test_pixels_first_lowers_the_scale_before_the_budget():
    controller = FrameRateController(30.0, 1_000_000, min_scale=0.25, pixels_first=True)
    for work, scale in ((0.25, 0.5), (0.81, 0.9), (0.36, 0.6)):
        controller.work = work  # down to scale 0.5, the scale alone: the budget whole (tau cut)
        assert controller.moving_detail() == Detail(scale=scale, budget=0), work
    controller.work = 0.3  # the scale rounds to 0.55; the budget makes up for it
    assert controller.moving_detail() == Detail(scale=0.55, budget=round(0.3 / 0.55**2 * 1e6))
    controller.work = 0.04  # below the knee, both evenly: share 0.4, scale^2 0.25 x 0.4
    assert controller.moving_detail() == Detail(scale=0.3, budget=round(0.04 / 0.3**2 * 1e6))
    controller.work = 0.001  # both at their floors
    assert controller.moving_detail() == Detail(scale=0.25, budget=100_000)


@pytest.mark.parametrize("pixels_first", [False, True])
def test_both_splits_settle_at_the_target(pixels_first):
    controller = FrameRateController(30.0, 100_000, min_scale=0.1, pixels_first=pixels_first)
    frames, _ = simulate(controller, fragment_bound(0.2, 0.004, 100_000), 40)
    assert all(s < 1 / 30 for _, s in frames[-10:])
    assert all(s > 0.8 / 30 for _, s in frames[-10:])  # no more detail given up than needed
    shares = [d.budget / 100_000 if d.budget else 1.0 for d, _ in frames[-10:]]
    # scale first: the budget only makes up for the scale's rounding
    assert min(shares) > (0.8 if pixels_first else 0.3), shares


def test_full_detail_once_the_camera_stops_and_the_last_work_is_kept():
    controller = FrameRateController(30.0, 100_000, still_after=0.1)
    _, now = simulate(controller, fragment_bound(0.4, 0.004, 100_000), 20)
    moving = controller.moving_detail()
    assert not moving.full
    assert not controller.detail(False, now + 0.05).full and controller.settling(now + 0.05)
    still = controller.detail(False, now + 0.1)
    assert still.full and not controller.settling(now + 0.1)
    assert controller.detail(True, now + 1.0) == moving  # motion again: where it left off


def test_changes_per_frame_are_bounded():
    controller = FrameRateController(30.0, 100_000, min_scale=0.1)
    before = controller.work
    controller.observe(100.0)  # one absurd frame
    assert controller.work == pytest.approx(before / 2)
    controller.observe(0.0)  # ignored
    assert controller.work == pytest.approx(before / 2)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="frame rate"):
        FrameRateController(0.0, 10)
    with pytest.raises(ValueError, match="render scale"):
        FrameRateController(30.0, 10, min_scale=0.0)


def test_frame_cut_follows_the_settings():
    assert frame_cut(LodSettings()) == (None, 1.0)
    tau = LodSettings(enabled=True, tau=3.0, blend_width=4.0)
    assert frame_cut(tau) == (LodCut(tau=3.0, blend_width=4.0), 1.0)
    hard = LodSettings(enabled=True, blend=False)
    assert frame_cut(hard)[0] == LodCut(tau=2.0, blend_width=1.0)
    budget = LodSettings(enabled=True, cut="budget", budget=7000)
    assert frame_cut(budget) == (LodCut(tau=2.0, budget=7000), 1.0)
    target = LodSettings(enabled=True, cut="target_fps")
    assert frame_cut(target) == (LodCut(tau=2.0), 1.0)  # full detail: the tau cut
    assert frame_cut(target, Detail(0.5, 900)) == (LodCut(tau=2.0, budget=900), 0.5)
