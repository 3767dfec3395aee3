"""Out-of-core viewing of streamed SOG scenes: the row pool, the plan, the cache and the stream.

The stream is checked on a small streamed SOG written by splatscope's own writer: it settles to
the image of the scene read whole, never holds more than its budgets, never waits for a read,
and keeps a leaf's coarser piece drawn when its finer chunk cannot be read.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import random_scene
from tests.stream_scenes import write_row
from viewer.camera import Camera
from viewer.cli import main
from viewer.core.session import ViewerSession
from viewer.formats import load_scene
from viewer.formats.sog_lod import read_lod_meta
from viewer.formats.sog_lod_meta import LodRef
from viewer.image_metrics import psnr
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import RenderSettings
from viewer.stream.chunk_cache import ChunkCache
from viewer.stream.leaves import StreamLeaves
from viewer.stream.plan import plan_levels, visible
from viewer.stream.row_pool import RowPool
from viewer.stream.scene_stream import SceneStream

SIZE = (96, 64)


@pytest.fixture(scope="module")
def streamed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The streamed row of tests/stream_scenes.py."""
    return write_row(tmp_path_factory.mktemp("stream"))


NEAR_END = Camera.look_at(np.array([-3.0, -2.0, 1.0]), np.array([8.0, 0.0, 0.0]), (0, 0, 1), *SIZE)


@pytest.fixture
def renderer(gl_ctx):
    made = SplatRenderer(gl_ctx)
    yield made
    made.release()


def _session(renderer: SplatRenderer, path: Path) -> ViewerSession:
    return ViewerSession(renderer, load_scene(path, lod_level=None))


def _render(renderer: SplatRenderer, session: ViewerSession, settings: SettingsSet, camera):
    inputs = session.settle(settings, camera)
    return renderer.render_image(session.gpu_scene, inputs, RenderSettings())


# -- the row pool --------------------------------------------------------------------------------


def test_the_pool_hands_out_the_lowest_rows_across_gaps_and_merges_what_comes_back() -> None:
    pool = RowPool(100)
    a, b, c = pool.take(30), pool.take(30), pool.take(30)
    assert a == [(0, 30)] and b == [(30, 60)] and c == [(60, 90)] and pool.end == 90
    pool.give(b)
    assert pool.take(40) == [(30, 60), (90, 100)]  # across the gap: no fragmentation refusal
    assert pool.take(1) is None and pool.free == 0
    pool.give(a)
    pool.give([(30, 60)])
    assert pool.free == 60 and pool.take(60) == [(0, 60)]


def test_the_pool_shrinks_only_down_to_the_rows_in_use() -> None:
    pool = RowPool(100)
    pool.take(40)
    pool.resize(10)
    assert pool.capacity == 40 and pool.free == 0
    pool.resize(70)
    assert pool.take(30) == [(40, 70)] and pool.end == 70


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 40)), max_size=60))
def test_the_pool_never_hands_out_a_row_twice(steps) -> None:
    pool, held, owner = RowPool(120), [], np.zeros(120, np.int64)
    for taking, rows in steps:
        if taking or not held:
            ranges = pool.take(rows)
            if ranges is None:
                assert rows > pool.free
                continue
            for start, stop in ranges:
                assert not owner[start:stop].any()
                owner[start:stop] = 1
            held.append(ranges)
        else:
            ranges = held.pop(rows % len(held))
            for start, stop in ranges:
                owner[start:stop] = 0
            pool.give(ranges)
        assert pool.used == owner.sum()
        assert pool.end == (np.flatnonzero(owner)[-1] + 1 if owner.any() else 0)


# -- the plan ------------------------------------------------------------------------------------


def _leaves(centres: list[tuple[float, float, float]], counts: list[int]) -> StreamLeaves:
    """Leaves of radius 1 at `centres`, each with `counts` Gaussians per level."""
    refs = tuple({level: LodRef(0, 0, n) for level, n in enumerate(counts)} for _ in centres)
    return StreamLeaves(
        np.arange(len(centres)),
        np.array(centres, np.float64),
        np.ones(len(centres)),
        np.tile(np.array(counts, np.int64), (len(centres), 1)),
        refs,
    )


EYE = Camera.look_at(np.zeros(3), np.array([1.0, 0.0, 0.0]), (0, 0, 1), 200, 100)


def test_near_leaves_are_refined_far_ones_and_those_behind_stay_coarse() -> None:
    leaves = _leaves([(3, 0, 0), (300, 0, 0), (-5, 0, 0)], [1000, 100, 10])
    assert visible(leaves, EYE, 0.01).tolist() == [True, True, False]
    levels = plan_levels(leaves, EYE, 0.01, 10**6, detail=1.0)
    assert levels.tolist() == [0, 2, 2]


def test_the_plan_keeps_to_its_budget_and_never_draws_a_nearer_leaf_coarser() -> None:
    leaves = _leaves([(3, 0, 0), (6, 0, 0), (12, 0, 0), (24, 0, 0)], [1000, 100, 10])
    unbounded = plan_levels(leaves, EYE, 0.01, 10**6, 0.5)
    assert unbounded.tolist() == [0, 0, 0, 0]
    for budget in (40, 130, 220, 400, 1200, 2200, 3000):
        levels = plan_levels(leaves, EYE, 0.01, budget, 0.5)
        assert leaves.rows(levels) <= budget
        assert np.all(np.diff(levels) >= 0)  # nearer leaves at least as fine
    assert plan_levels(leaves, EYE, 0.01, 130, 0.5).tolist() == [1, 2, 2, 2]
    floor = plan_levels(leaves, EYE, 0.01, 5, 0.5)  # below the coarsest: that is what is drawn
    assert floor.tolist() == [2, 2, 2, 2]


# -- the cache -----------------------------------------------------------------------------------


def _scene_of(rows: int) -> GaussianScene:
    return random_scene(np.random.default_rng(rows), rows, sh_degree=0)


def test_the_cache_reads_on_workers_and_keeps_to_its_budget() -> None:
    gate = threading.Event()

    def read(file: int) -> GaussianScene:
        gate.wait(10)
        if file == 3:
            raise ValueError("broken chunk")
        return _scene_of(100)

    size = _scene_of(100).nbytes
    cache = ChunkCache(read, lambda file: size, budget=2 * size)
    try:
        cache.want([0, 1, 2, 3], pinned=set())
        assert cache.pending == 2 and cache.collect() == []  # no room for more; nothing waits
        gate.set()
        while cache.pending:
            cache.wait(1.0)
            cache.collect()
        assert cache.held == 2 and cache.nbytes <= cache.budget
        cache.want([2, 3], pinned={1})  # 0 is dropped for 2; 1 is pinned
        while cache.pending:
            cache.wait(1.0)
            cache.collect()
        assert cache.get(0) is None and cache.get(1) is not None and cache.evictions >= 1
        cache.want([2, 3], pinned={1, 2})
        while cache.pending:
            cache.wait(1.0)
            cache.collect()
        assert cache.nbytes <= cache.budget
        cache.want([3], pinned=set())
        while cache.pending:
            cache.wait(1.0)
            cache.collect()
        assert cache.failures == {3: "broken chunk"}
        cache.want([3], pinned=set())
        assert cache.pending == 0  # a failed read is not tried again
    finally:
        cache.close()


# -- the stream ----------------------------------------------------------------------------------


def test_a_settled_stream_draws_what_the_scene_read_whole_draws(renderer, streamed) -> None:
    fine = SettingsSet().changed("stream", detail=0.05)  # every leaf at level 0
    session = _session(renderer, streamed)
    try:
        assert session.gpu_scene.count < 400  # it starts at the coarsest level
        image = _render(renderer, session, fine, NEAR_END)
        facts = session.stream.facts()
        assert facts.by_level == (8, 0, 0) and facts.drawn == 4000 and facts.waiting == 0
    finally:
        session.release()
    whole = ViewerSession(renderer, load_scene(streamed))
    try:
        reference = _render(renderer, whole, SettingsSet(), NEAR_END)
    finally:
        whole.release()
    assert reference.std() > 0.01 and psnr(image, reference) > 60.0


def test_far_leaves_stay_coarse_and_the_budget_bounds_what_is_drawn(renderer, streamed) -> None:
    session = _session(renderer, streamed)
    try:
        _render(renderer, session, SettingsSet().changed("stream", detail=2.0), NEAR_END)
        near = session.stream.facts().by_level
        assert near[0] >= 1 and near[0] + near[1] < 8  # the near end fine, the far end not
        tight = SettingsSet().changed("stream", gpu_budget_mb=0.1, detail=0.05)
        _render(renderer, session, tight, NEAR_END)
        facts = session.stream.facts()
        assert facts.drawn * session.stream.row_bytes <= 0.1 * 2**20 and facts.by_level[0] == 0
    finally:
        session.release()


def test_tiny_budgets_are_never_exceeded_along_an_orbit(renderer, streamed) -> None:
    gpu_mb, host_mb = 0.2, 0.3  # room for two leaves at level 0, and one level-0 chunk file
    tiny = SettingsSet().changed(
        "stream", gpu_budget_mb=gpu_mb, host_budget_mb=host_mb, detail=0.05
    )
    session = _session(renderer, streamed)
    stream = session.stream
    try:
        for step in range(24):
            angle = step * np.pi / 6
            eye = np.array([20 + 22 * np.cos(angle), 6 * np.sin(angle), 2.0])
            camera = Camera.look_at(eye, np.array([20.0, 0.0, 0.0]), (0, 0, 1), *SIZE)
            for _ in range(3):
                session.update(tiny, camera, 0.0, None)
                stream.cache.wait(0.2)
                assert stream.cache.nbytes <= host_mb * 2**20
                assert stream.pool.used * stream.row_bytes <= gpu_mb * 2**20
                assert session.gpu_scene.capacity * stream.row_bytes <= gpu_mb * 2**20
        facts = stream.facts()
        assert facts.swaps > 8 and facts.evictions > 0 and facts.loads > 2
    finally:
        session.release()


def test_no_frame_waits_for_a_read(renderer, streamed, monkeypatch) -> None:
    gate, read = threading.Event(), SceneStream._read

    def slow(self: SceneStream, file: int) -> GaussianScene:
        gate.wait(20)
        return read(self, file)

    monkeypatch.setattr(SceneStream, "_read", slow)
    session = _session(renderer, streamed)
    try:
        coarse = session.stream.facts().by_level
        for _ in range(3):
            session.update(SettingsSet(), NEAR_END, 0.0, None)
        assert session.stream.refining and session.stream.facts().by_level == coarse
        assert session.busy(0.0)  # the window keeps drawing while chunks come
        gate.set()
        _render(renderer, session, SettingsSet(), NEAR_END)
        assert session.stream.facts().by_level != coarse and not session.busy(0.0)
    finally:
        gate.set()
        session.release()


def test_a_chunk_that_fails_leaves_the_coarser_piece_drawn_and_says_so(
    renderer, streamed, tmp_path
) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(streamed.parent, folder)
    meta = read_lod_meta(folder / "lod-meta.json")
    broken = next(name for name in meta.filenames if name.startswith("0_"))
    (folder / broken).with_name("means_l.webp").write_bytes(b"not a webp image")
    session = _session(renderer, folder / "lod-meta.json")
    try:
        image = _render(renderer, session, SettingsSet().changed("stream", detail=0.05), NEAR_END)
        facts = session.stream.facts()
        assert len(facts.failures) == 1 and facts.failures[0].startswith(broken + ": ")
        assert "means_l.webp" in facts.failures[0]
        assert facts.by_level[0] < 8 and sum(facts.by_level) == 8 and facts.waiting == 0
        assert image.std() > 0.01
    finally:
        session.release()


def test_the_bench_streams_each_configuration_and_reports_how(streamed, tmp_path, gl_ctx) -> None:
    out = tmp_path / "bench"
    args = ["bench", str(streamed), "--out", str(out), "--frames", "4", "--warmup", "0"]
    args += ["--width", "96", "--height", "64", "--config", "roomy:stream.detail=0.05"]
    args += ["tight:stream.detail=0.05,stream.gpu_budget_mb=0.1"]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["gaussians"] == 4000 and report["first_frame_ms"] > 0
    roomy, tight = (config["stream"] for config in report["configs"])
    assert roomy["refining_frames"] >= 1 and roomy["loads"] >= 1 and roomy["failures"] == []
    assert tight["gpu_bytes"] <= tight["gpu_budget_bytes"] <= 0.1 * 2**20 < roomy["gpu_bytes"]
    rows = list(csv.DictReader((out / "frames.csv").open()))
    assert int(rows[0]["waiting"]) > 0  # the first frame is drawn before any chunk is read
