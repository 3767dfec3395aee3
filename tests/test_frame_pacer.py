"""The window's frame pacing (viewer/app/frame_pacer.py, viewer/app/view_target.py): how much of a
slow splat frame a UI frame draws, and the view that keeps the last finished frame meanwhile."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.app.frame_pacer import FIRST_PARTS, MAX_GROWTH, MIN_STEP_MS, FramePacer
from viewer.app.view_target import ViewTarget
from viewer.builtin_scene import default_camera, load_builtin_scene, preview_cameras
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings


def test_a_fast_device_draws_whole_frames() -> None:
    pacer = FramePacer(ui_ms=25.0)
    assert pacer.count() is None
    pacer.frame_done(10.0)
    assert pacer.whole and pacer.count() is None


def test_a_slow_frame_switches_to_parts_that_fit_the_ui_frame() -> None:
    pacer = FramePacer(ui_ms=25.0)
    pacer.frame_done(400.0)  # a whole frame took 16 UI frames' time
    assert pacer.count() == FIRST_PARTS  # nothing learned of a part yet
    pacer.stepped(FIRST_PARTS, FIRST_PARTS * 0.01)  # 10 us a part
    pacer.ui_frame(frame_ms=15.0, splat_ms=2.56)  # the UI's own work: about 12.4 ms
    budget = 25.0 - pacer.ui_work_ms
    assert pacer.budget_ms == budget
    assert pacer.count() == min(int(budget / 0.01), int(FIRST_PARTS * MAX_GROWTH))
    for _ in range(10):  # parts grow to fill the budget, not beyond
        pacer.stepped(pacer.count() or 0, (pacer.count() or 0) * 0.01)
    assert pacer.count() == int(budget / 0.01)


def test_costlier_parts_shrink_the_next_step_and_the_budget_has_a_floor() -> None:
    pacer = FramePacer(ui_ms=25.0, whole=False)
    pacer.stepped(1000, 10.0)
    cheap = pacer.count()
    pacer.stepped(1000, 40.0)  # near, large splats cost more per part
    assert (pacer.count() or 0) < (cheap or 0)
    pacer.ui_frame(frame_ms=200.0, splat_ms=5.0)  # a UI frame far over its time on its own
    assert pacer.budget_ms == MIN_STEP_MS
    assert (pacer.count() or 0) >= 1


def test_a_step_that_prepares_the_frame_draws_fewer_parts() -> None:
    pacer = FramePacer(ui_ms=25.0, whole=False, ms_per_part=0.01, last_count=10_000)
    pacer.prepared(20.0)
    pacer.prepared(20.0)  # preprocess, sort and binning: about 15 ms learned
    assert 0.0 < pacer.prepare_ms <= 20.0
    plain, preparing = pacer.count(), pacer.count(preparing=True)
    assert plain == int(25.0 / 0.01)
    assert preparing == int((25.0 - pacer.prepare_ms) / 0.01) < plain
    pacer.prepared(100.0)  # preparing alone over the budget: still one part
    assert pacer.count(preparing=True) == 1


def test_frames_return_to_whole_once_they_are_cheap() -> None:
    pacer = FramePacer(ui_ms=25.0, whole=False)
    pacer.frame_done(20.0)  # under the budget, but not by half: stays in parts
    assert not pacer.whole
    pacer.frame_done(5.0)
    assert pacer.whole


def _read(target: ViewTarget) -> np.ndarray:
    width, height = target.image.size
    return np.frombuffer(target.image.texture.read(), np.uint8).reshape(height, width, 4).copy()


def test_the_view_shows_the_last_finished_frame_while_the_next_is_drawn(gl_ctx) -> None:
    """A pacer drawing a few parts a UI frame: the image shown changes only when a frame is
    done, then it is the whole frame's image; a frame begun is finished before the next."""
    raster = RasterSettings(backend="quads", sort="cpu")
    renderer = SplatRenderer(gl_ctx, raster)
    scene = GpuScene.from_scene(gl_ctx, load_builtin_scene(), renderer.device)
    target = ViewTarget(gl_ctx)
    settings = RenderSettings()
    pacer = FramePacer(whole=False, ms_per_part=1e9)  # one part a step
    first = FrameInputs(default_camera(160, 96))
    second = FrameInputs(preview_cameras(160, 96)["left"])
    try:
        assert target.render(renderer, scene, first, settings, raster) is not None  # whole
        shown = _read(target)
        calls = 0
        while True:  # a new view, then (mid-frame) another: the first is finished first
            calls += 1
            stats = target.render(renderer, scene, second if calls == 1 else first, settings,
                                  raster, pacer=pacer)  # fmt: skip
            if stats is not None:
                break
            assert target.drawing
            np.testing.assert_array_equal(_read(target), shown)
        assert calls > 10 and not target.drawing
        whole_second = renderer.render_image(scene, second, settings)
        assert (
            np.abs(_read(target)[::-1, :, :3] / 255.0 - np.clip(whole_second, 0, 1)).max() < 2 / 255
        )
        # the first view comes next, as a frame of its own
        while target.render(renderer, scene, first, settings, raster, pacer=pacer) is None:
            pass
        np.testing.assert_array_equal(_read(target), shown)
    finally:
        target.release()
        scene.release()
        renderer.release()


def test_under_a_frame_rate_target_the_ui_frame_is_its_period():
    from viewer.app.frame_pacer import MIN_UI_RATE, UI_RATE, ui_frame_ms

    assert ui_frame_ms(None) == pytest.approx(1e3 / UI_RATE)
    assert ui_frame_ms(30.0) == pytest.approx(1e3 / 30.0)  # a 30 FPS frame fits: drawn whole
    assert ui_frame_ms(20.0) == pytest.approx(1e3 / 20.0)  # a lower target: its own period
    assert ui_frame_ms(5.0) == pytest.approx(1e3 / MIN_UI_RATE)  # the UI stays responsive
    assert ui_frame_ms(120.0) == pytest.approx(1e3 / UI_RATE)
    pacer = FramePacer(ui_ms=ui_frame_ms(30.0), ui_work_ms=20.0)
    pacer.frame_done(12.0)  # 12 ms of splats + 20 of UI fit 30 FPS ...
    assert pacer.whole and pacer.count() is None
    pacer = FramePacer(ui_work_ms=20.0)
    pacer.frame_done(12.0)  # ... but not a 40 FPS UI frame: in parts
    assert not pacer.whole
