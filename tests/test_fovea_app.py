"""Foveation in the viewer and in `render`: the subsets uploaded once scores are known, the mouse
gaze, the region readout, the outlines, the panel section, the preset, the headless image."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from imgui_bundle import imgui

from tests.gpu_readback import read_levels
from tests.test_app_panel import facts, gui, in_window, panel_settings  # noqa: F401 (gui: a fixture)
from tests.test_foveation import front_camera, front_scene
from tests.test_pipeline import psnr
from viewer.app.panel import Action, Panel
from viewer.core.fovea_state import FoveaFacts, FoveaState, RegionQuality
from viewer.core.frame import frame_inputs
from viewer.core.inspection import CropBox
from viewer.features.foveation import region_fovea, subset_levels
from viewer.features.presets import PRESETS, with_preset
from viewer.headless import render_scene
from viewer.render.fovea import fovea_mask
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.settings import (
    GROUPS,
    FoveationSettings,
    LodSettings,
    PruneSettings,
    RasterSettings,
    RenderSettings,
)

FOV = FoveationSettings(enabled=True, fovea=6.0, bands=(4.0, 4.0), band_blend=2.0)


@pytest.fixture(scope="module")
def state(gl_ctx):
    """(scene, gpu scene, renderer, a FoveaState of them, the scores it ranks by)."""
    rng = np.random.default_rng(11)
    scene = front_scene(rng, 2000)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    renderer = SplatRenderer(gl_ctx, RasterSettings(sort="cpu"))
    scores = {"significance": rng.uniform(size=scene.count).astype(np.float32)}
    yield scene, gpu, renderer, FoveaState(renderer, gpu), scores
    renderer.release()
    gpu.release()


def test_subsets_are_uploaded_once_their_scores_are_known(state) -> None:
    _, gpu, _, fovea, scores = state
    fovea.update(FOV, {}, 0, None)
    assert "significance scores" in fovea.facts(None).waiting and read_levels(gpu) is None
    fovea.update(FOV, scores, 1, None)
    expected = subset_levels(scores["significance"], FOV.shares)
    np.testing.assert_array_equal(read_levels(gpu), expected)
    assert fovea.facts(None).waiting == ""
    version = gpu.version
    fovea.update(FOV, scores, 1, None)  # nothing changed: nothing uploaded
    assert gpu.version == version
    fovea.update(dataclasses.replace(FOV, shares=(1.0, 0.5, 0.3, 0.1)), scores, 1, None)
    assert gpu.version > version
    fovea.update(FOV, scores, 2, None)
    lod_source = dataclasses.replace(FOV, source="lod")
    fovea.update(lod_source, scores, 2, None, lod_cut=False)
    assert "enable LOD" in fovea.facts(None).waiting
    fovea.update(lod_source, scores, 2, None, lod_cut=True)
    assert fovea.facts(None).waiting == ""
    assert FoveaState.wanted_score(FoveationSettings()) is None  # off: no scores wanted
    assert FoveaState.wanted_score(FOV) == "significance"


def test_the_mouse_gaze_follows_the_pointer(state) -> None:
    *_, fovea, _ = state
    camera = front_camera()
    mouse = FoveationSettings(enabled=True, gaze="mouse")
    fovea.pointer = None
    assert fovea.gaze(mouse, camera) is None  # the centre
    fovea.pointer = (30.0, 20.0)
    inputs = frame_inputs(camera, (None, 1.0), mouse, fovea.gaze(mouse, camera))
    assert inputs.gaze == (30.0, 20.0) and inputs.fovea is not None
    off = FoveationSettings()
    assert frame_inputs(camera, (None, 1.0), off, fovea.gaze(off, camera)) == FrameInputs(camera)
    fixed = FoveationSettings(enabled=True, gaze="fixed", gaze_x=0.25, gaze_y=0.5)
    assert frame_inputs(camera, (None, 1.0), fixed).gaze == (40.0, 48.0)


def test_outlines_only_when_asked_for(state) -> None:
    *_, fovea, _ = state
    camera = front_camera()
    assert fovea.outlines(camera, FOV) == []
    lines = fovea.outlines(camera, FoveationSettings(enabled=True, outline=True))
    assert fovea.outlines(camera, FoveationSettings(enabled=True, outline=True)) is lines
    moved = fovea.outlines(camera, FoveationSettings(enabled=True, outline=True, fovea=20.0))
    assert moved is not lines and not np.allclose(moved[0], lines[0])
    assert len(lines) == 3 and all(line.shape[1] == 2 for line in lines)


def test_the_readout_compares_fovea_and_periphery_with_the_full_render(state, gl_ctx) -> None:
    *_, fovea, scores = state
    fovea.update(FOV, scores, 3, None)
    fovea.pointer = None
    inputs = frame_inputs(front_camera(), (None, 1.0), FOV, fovea.gaze(FOV, front_camera()))
    quality = fovea.compare(inputs, RenderSettings(), FOV, gl_ctx.finish)
    # the fovea is the full render (the cpu backend preprocesses both frames on the host; the
    # pooling mapping's foveated frame would take the GL pass: float32 rounding, > 100 dB)
    assert quality.fovea[0] == math.inf
    assert 5.0 < quality.periphery[0] < 60.0 and quality.periphery[1] < 1.0
    assert quality.fovea[0] > quality.whole[0] > quality.periphery[0]
    assert quality.time_ratio == pytest.approx(quality.drawn_ms / quality.full_ms)
    assert fovea.facts(None).quality is quality
    fovea.update(FOV, scores, 4, None)  # new subsets: the readout is stale
    assert fovea.quality is None


def test_the_panel_section_shows_the_readout_and_asks_for_actions(gui, monkeypatch):  # noqa: F811
    texts = []
    monkeypatch.setattr(imgui, "text", lambda value: texts.append(value))
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)
    pressed = {"Compare##fovea", "Preset: balanced"}
    monkeypatch.setattr(imgui, "button", lambda label, *args: label in pressed)
    quality = RegionQuality(fovea=(math.inf, 1.0), periphery=(31.25, 0.9), whole=(38.5, 0.95),
                            time_ratio=0.42, drawn_ms=21.0, full_ms=50.0)  # fmt: skip
    shown = facts(fovea=FoveaFacts(culled=1234, quality=quality))
    settings = panel_settings().changed("fov", enabled=True)
    *_, actions = gui(lambda: Panel().draw(settings, CropBox(), shown))
    assert "left out in view: 1,234 Gaussians" in texts
    assert "fovea     PSNR identical  SSIM 1.0000" in texts
    assert "periphery PSNR  31.25 dB  SSIM 0.9000" in texts
    assert "frame time x0.42 (21.0 ms vs 50.0 ms in full)" in texts
    assert actions[-2:] == [Action("compare_fovea"), Action("apply_preset", "balanced")]


def test_the_balanced_preset_sets_lod_foveation_and_pruning() -> None:
    groups = [group for group in GROUPS if group.panel]
    settings = with_preset(panel_settings(), "balanced", groups)
    assert settings.of(LodSettings).enabled and settings.of(FoveationSettings).enabled
    assert settings.of(PruneSettings).active
    assert settings.of(RenderSettings) == RenderSettings()  # nothing else changed
    assert set(PRESETS) == {"balanced"}


def test_render_foveates_around_the_fixed_gaze(monkeypatch) -> None:
    scene = front_scene(np.random.default_rng(2), 1500)
    camera = front_camera()
    rng = np.random.default_rng(3)
    scores = {name: rng.uniform(size=scene.count) for name in ("significance", "efficiency")}
    monkeypatch.setattr("viewer.core.pruning_state.ScoreCache.load", lambda *args: scores)
    full = render_scene(scene, camera)
    fov = FoveationSettings(enabled=True, gaze="fixed", gaze_x=0.3, gaze_y=0.4, fovea=8.0)
    image = render_scene(scene, camera, fov=fov)
    mask = fovea_mask(camera, region_fovea(fov), (0.3 * camera.width, 0.4 * camera.height))
    np.testing.assert_allclose(image[mask], full[mask], atol=1e-6)
    assert np.abs(image - full)[~mask].max() > 0.1


def test_the_overlay_counts_what_foveation_left_out(gui, monkeypatch) -> None:  # noqa: F811
    from viewer.app.overlay import draw_overlay
    from viewer.stats import FrameStats, StatsHistory

    texts = []
    monkeypatch.setattr(imgui, "text", lambda value: texts.append(value))
    history = StatsHistory()
    history.add(FrameStats(frame=0, clock="finish+wall", pass_ms={"preprocess": 1.0},
                           frame_ms=20.0, total=2000, visible=280, fovea_culled=1500))  # fmt: skip
    gui(lambda: draw_overlay(history, "quads", "cpu", 2000))
    assert "foveation: 1,500 in view left out" in texts


def test_view_takes_a_preset_under_the_flags_given() -> None:
    from viewer.cli import UsageError, parse_arguments
    from viewer.features.presets import preset_of
    from viewer.setting_specs import from_arguments

    args = parse_arguments(["--preset", "balanced", "--fov.fovea", "14", "--lod.budget", "900"])
    settings = from_arguments(args, "view", preset_of(args))
    fov, lod = settings.of(FoveationSettings), settings.of(LodSettings)
    assert fov.enabled and fov.fovea == 14.0 and fov.shares == (1.0, 0.6, 0.4, 0.3)
    assert lod.enabled and (lod.cut, lod.budget) == ("budget", 900)  # the flag's cut, not tau
    assert settings.of(PruneSettings).active
    plain = parse_arguments(["--fov.outline", "on"])  # any fov key enables foveation
    assert from_arguments(plain, "view", preset_of(plain)).of(FoveationSettings).enabled
    with pytest.raises(UsageError, match="invalid choice: 'fast'"):
        parse_arguments(["--preset", "fast"])


def test_the_lod_source_without_lod_is_refused(tmp_path, capsys) -> None:
    from viewer.bench.configs import parse_config
    from viewer.cli import main
    from viewer.errors import EXIT_BAD_INPUT

    out = str(tmp_path / "f.png")
    assert main(["render", "--fov.source", "lod", "--out", out]) == EXIT_BAD_INPUT
    assert "fov.source lod coarsens the LOD cut: enable LOD" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"config 'f': fov\.source lod coarsens"):
        parse_config("f:fov.source=lod")
    assert parse_config("f:fov.source=lod,lod.tau=1").fov.source == "lod"


def test_the_panel_leaves_out_the_fields_the_values_do_not_read(gui, monkeypatch) -> None:  # noqa: F811
    from viewer.app import widgets

    drawn: list[str] = []
    original = widgets.edit_value

    def recording(spec, value, limit=None):
        drawn.append(spec.name)
        return original(spec, value, limit)

    monkeypatch.setattr(widgets, "edit_value", recording)

    def names(settings) -> set[str]:
        drawn.clear()
        gui(lambda: in_window(lambda: widgets.edit_settings(settings)))
        return set(drawn)

    fov = names(FoveationSettings())
    assert {"fovea", "bands", "shares"} <= fov and not {"gaze_x", "alpha", "lod_tau_scale"} & fov
    pooling = names(FoveationSettings(gaze="fixed", mapping="pooling", source="lod"))
    assert {"gaze_x", "alpha", "lod_tau_scale"} <= pooling
    assert not {"fovea", "bands", "shares", "subset_score"} & pooling
    assert "budget" not in names(LodSettings()) and "tau" not in names(LodSettings(cut="budget"))
    assert {"target_fps", "min_scale", "tau"} <= names(LodSettings(cut="target_fps"))
    assert "blend_width" not in names(LodSettings(blend=False))


def test_the_default_shares_leave_no_object_of_the_builtin_scene_out(tmp_path, monkeypatch):
    """The whole frame in the periphery (gaze in a corner): every object stays (RTGS's shares
    dropped the sphere, the torus and the text: 13.8 dB)."""
    from viewer.builtin_scene import load_scene_or_builtin
    from viewer.framing import default_camera

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scene = load_scene_or_builtin(None)
    camera = default_camera(scene, 320, 180)
    fov = FoveationSettings(enabled=True, gaze="fixed", gaze_x=0.05, gaze_y=0.05)
    full = render_scene(scene, camera)
    image = render_scene(scene, camera, fov=fov)
    assert psnr(image, full) > 26.0
    assert (np.abs(image - full).max(axis=-1) > 0.2).mean() < 0.03
