"""The panel's LOD section on a headless ImGui: what it shows and the actions it asks for."""

from __future__ import annotations

import dataclasses

from imgui_bundle import imgui

from tests.test_app_panel import facts, gui, panel_settings  # noqa: F401 (gui: a fixture)
from viewer.app.panel import Action, Panel
from viewer.core.inspection import CropBox
from viewer.core.lod_state import LodFacts


def test_lod_section_shows_the_cut_and_asks_for_actions(gui, monkeypatch):  # noqa: F811
    texts = []
    monkeypatch.setattr(imgui, "text", lambda value: texts.append(value))
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)
    pressed = {"Compare##lod", "Show levels"}
    monkeypatch.setattr(imgui, "button", lambda label, *args: label in pressed)
    lod = LodFacts(nodes=5000, levels=7, origin="built in 0.2 s", drawn=300, tau=3.5,
                   drawn_per_level=(200, 50, 50), render_scale=0.5, target=(300, 0.5),
                   quality=(33.3, 0.95))  # fmt: skip
    settings = panel_settings().changed("lod", enabled=True, cut="target_fps")
    *_, actions = gui(lambda: Panel().draw(settings, CropBox(), facts(lod=lod)))
    assert "tree: 5,000 merged nodes, 7 levels" in texts
    assert "in the cut: 300 (30.0 %), tau 3.5 px" in texts
    assert "render scale 0.50 (stretched to the window)" in texts
    assert "vs full render: PSNR 33.30 dB, SSIM 0.9500" in texts
    assert actions[-2:] == [Action("compare_lod"), Action("show_lod_levels")]
    pressed.clear()
    pressed.add("Hide levels")
    shown = facts(lod=dataclasses.replace(lod, showing_levels=True))
    *_, actions = gui(lambda: Panel().draw(settings, CropBox(), shown))
    assert actions[-1] == Action("show_lod_levels")  # the same action turns it off


def test_lod_section_while_the_tree_is_built(gui, monkeypatch):  # noqa: F811
    bars = []
    monkeypatch.setattr(imgui, "collapsing_header", lambda label, flags=0: True)
    monkeypatch.setattr(imgui, "progress_bar", lambda fraction, size, text: bars.append(text))
    shown = facts(lod=LodFacts(building=0.4))
    gui(lambda: Panel().draw(panel_settings().changed("lod", enabled=True), CropBox(), shown))
    assert "building the LOD tree 40 %" in bars


def test_overlay_shows_the_cut_and_the_render_scale(gui, monkeypatch):  # noqa: F811
    from viewer.app.overlay import draw_overlay
    from viewer.stats import FrameStats, StatsHistory

    texts = []
    monkeypatch.setattr(imgui, "text", lambda value: texts.append(value))
    monkeypatch.setattr(imgui, "text_wrapped", lambda value: texts.append(value))
    history = StatsHistory()
    history.add(FrameStats(frame=0, clock="finish+wall", pass_ms={"lod": 1.0}, frame_ms=20.0,
                           total=2000, visible=280, render_scale=0.5, lod_drawn=300,
                           lod_tau=3.5, lod_levels=(200, 100)))  # fmt: skip
    gui(lambda: draw_overlay(history, "quads", "cpu", 1500))
    assert "LOD: drawn 300, tau 3.5 px, render scale 0.50" in texts
    assert "visible 280 of 1,500 Gaussians + 500 merged" in texts
    history.add(FrameStats(frame=1, clock="finish+wall", pass_ms={"preprocess": 2.0},
                           frame_ms=20.0, total=1500, visible=280))  # fmt: skip
    texts.clear()
    gui(lambda: draw_overlay(history, "quads", "cpu", 1500))  # LOD off: no lod row
    assert not any(text.lstrip().startswith("lod") for text in texts)
    assert "visible 280 of 1,500 Gaussians" in texts
