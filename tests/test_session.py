"""The window-free viewer core: one ordered update from settings to a frame's inputs, the flag
layers, picking, and the settled session that `render` draws."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_scene
from tests.gpu_readback import read_levels
from viewer.camera import Camera
from viewer.core.inspection import CropBox
from viewer.core.session import ViewerSession
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.layout import FLAG_HIDDEN, FLAG_PRUNED, FLAG_SELECTED
from viewer.render.renderer import SplatRenderer
from viewer.setting_specs import SettingsSet
from viewer.settings import PruneSettings, RenderSettings

CAMERA = Camera.look_at(np.array([4.0, -3.0, 2.0]), np.zeros(3), (0, 0, 1), 64, 48)


@pytest.fixture
def session(gl_ctx, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    scene = random_scene(np.random.default_rng(8), 800, sh_degree=1, spread=2.0)
    renderer = SplatRenderer(gl_ctx)
    made = ViewerSession(renderer, scene)
    yield made
    made.release()
    renderer.release()


def test_default_settings_draw_the_whole_scene_and_a_second_frame_writes_nothing(session):
    assert session.update(SettingsSet(), CAMERA, 0.0, None) == FrameInputs(CAMERA)
    version = session.gpu_scene.version
    assert session.update(SettingsSet(), CAMERA, 0.1, 0.1) == FrameInputs(CAMERA)
    assert session.gpu_scene.version == version and not session.busy(0.1)


def test_pruning_by_a_view_score_measures_a_view_per_update_then_flags(session):
    settings = SettingsSet().changed("prune", score="significance", keep=0.25, views=3)
    session.update(settings, CAMERA, 0.0, None)
    assert session.pruning.job is not None and session.busy(0.0)  # one view measured
    updates = 1
    while session.pruning.job is not None:
        session.update(settings, CAMERA, 0.0, None)
        updates += 1
    assert updates == 3
    flags = session.gpu_scene.read("flags")
    assert int(((flags & FLAG_PRUNED) == 0).sum()) == round(0.25 * 800)


def test_settle_builds_the_lod_tree_and_cuts(session):
    settings = SettingsSet().changed("lod", enabled=True, tau=4.0)
    inputs = session.settle(settings, CAMERA)
    assert session.lod.tree is not None and session.gpu_scene.lod_nodes > 0
    assert inputs.lod == LodCut(tau=4.0)
    foveated = settings.changed("fov", enabled=True, gaze="fixed", gaze_x=0.25, gaze_y=0.5)
    inputs = session.settle(foveated, CAMERA)  # measures the subsets' scores too
    assert "significance" in session.pruning.scores
    assert inputs.gaze == (16.0, 24.0) and inputs.fovea is not None
    levels = read_levels(session.gpu_scene)
    assert levels is not None and levels.any()


def test_crop_and_selection_are_flag_layers_that_compose(session):
    lo, hi = session.scene.bounds
    middle = (lo + hi) / 2
    session.set_crop(CropBox(True, tuple(map(float, lo)), tuple(map(float, middle))))
    session.select(5)
    flags = session.gpu_scene.read("flags")
    outside = ~np.all(session.scene.means <= middle, axis=1)
    assert ((flags & FLAG_HIDDEN) != 0).tolist() == outside.tolist()
    assert np.flatnonzero(flags & FLAG_SELECTED).tolist() == [5]
    assert session.selected is not None and session.selected.index == 5
    session.select(None)
    assert not (session.gpu_scene.read("flags") & FLAG_SELECTED).any()


def test_a_pick_names_the_gaussian_and_the_surface_under_a_pixel(session):
    inputs = FrameInputs(CAMERA)
    full = session.renderer.measure(session.gpu_scene, inputs, RenderSettings()).pixels
    py, px = np.unravel_index(np.argmax(full["top_weight"]), full.shape)
    pick = session.pick(inputs, (int(px), int(py)), RenderSettings())
    assert pick.index == int(full[py, px]["top_gaussian"])
    assert pick.depth is not None and pick.point is not None
    empty = session.pick(FrameInputs(Camera.look_at((0, 0, 50), (0, 0, 60), (0, 1, 0), 8, 8)),
                         (4, 4), RenderSettings())  # fmt: skip
    assert empty.index is None and empty.point is None


def test_rows_changed_in_place_copy_nothing_back_until_something_reads_them(session):
    """A live model densified: the frame draws the new rows; the host copy comes when needed."""
    old = session.scene
    grown = random_scene(np.random.default_rng(9), 1000, sh_degree=1, spread=2.0)
    session.gpu_scene.write(0, **{name: getattr(grown, name) for name in
                                  ("means", "scales", "rotations", "opacities", "sh")})  # fmt: skip
    session.select(3)
    copies = []

    def refresh():
        copies.append(1)
        return grown

    session.rows_changed(refresh)
    assert session.host_stale and session.selected is None
    assert not session.gpu_scene.read("flags").any()  # the selection's flag is gone
    for _ in range(2):  # frames, the panel's facts: no copy back
        session.update(SettingsSet(), CAMERA, 0.0, None)
        session.pruning_facts(PruneSettings())
        session.lod_facts(None)
        assert session.host is old and copies == []
    lo, hi = grown.bounds
    session.set_crop(CropBox(True, tuple(map(float, lo)), tuple(map(float, (lo + hi) / 2))))
    assert copies == [1] and session.scene is grown and not session.host_stale
    hidden = (session.gpu_scene.read("flags") & FLAG_HIDDEN) != 0
    assert hidden.shape == (1000,) and hidden.any() and not hidden.all()
    pruned = SettingsSet().changed("prune", score="opacity", keep=0.5)
    session.update(pruned, CAMERA, 0.0, None)
    assert copies == [1]  # the copy is taken once
    assert int(((session.gpu_scene.read("flags") & FLAG_PRUNED) != 0).sum()) == 500
