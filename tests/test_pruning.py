"""Pruning scores on scenes whose answer is known, against the reference, the cache, the flags,
the export and the bench shorthand."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import random_scene, scene_path
from tests.test_contributions import axis_camera, layered_scene
from tests.test_pipeline import MIN_PSNR, psnr
from viewer.camera import Camera
from viewer.features import score_cache
from viewer.features.pruning import (
    PRUNING_SCORES,
    PruneSettings,
    compute_scores,
    keep_mask,
    parse_shorthand,
    prune_flags,
    score_views,
    volume_scores,
)
from viewer.formats import load_scene, save_scene
from viewer.reference import reference_contributions, render_scene_reference
from viewer.render.frame_inputs import FrameInputs
from viewer.render.layout import FLAG_PRUNED
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Score caches of these tests land in a temporary folder, not the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def renderer(gl_ctx):
    r = SplatRenderer(gl_ctx, RasterSettings(backend="quads", sort="cpu", validate=True))
    yield r
    r.release()


def with_cameras(scene, *cameras):
    return dataclasses.replace(scene, cameras=tuple(cameras))


def scores_of(upload, renderer, scene, **settings):
    return compute_scores(renderer, upload(scene), scene, PruneSettings(**settings))


def test_invisible_gaussians_score_zero_significance_and_efficiency(renderer, upload):
    # 0: in view; 1: below 1/255 opacity; 2: behind the camera
    scene = with_cameras(layered_scene([0.9, 0.003, 0.9], [3.0, 2.0, -2.0]), axis_camera(64))
    scores = scores_of(upload, renderer, scene, views=1, view_width=64)
    assert scores["significance"][0] > 0 and scores["efficiency"][0] > 0
    assert scores["significance"][1:].tolist() == [0.0, 0.0]
    assert scores["efficiency"][1:].tolist() == [0.0, 0.0]


def test_a_gaussian_behind_an_opaque_one_scores_less(renderer, upload):
    scene = with_cameras(layered_scene([0.99, 0.99], [6.0, 3.0]), axis_camera(64))
    scores = scores_of(upload, renderer, scene, views=1, view_width=64)
    assert scores["significance"][1] > 5 * scores["significance"][0] > 0
    # per tile: the one behind covers fewer tiles, yet still scores less
    assert scores["efficiency"][1] > scores["efficiency"][0] > 0
    assert keep_mask(scores["significance"], PruneSettings(keep=0.5)).tolist() == [False, True]


def test_significance_and_efficiency_match_the_reference_over_the_views(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 250, sh_degree=0)
    views = [
        Camera.look_at(rng.normal(size=3) * 0.3 + (0, -2.2, 0.3), (0, 0, 0), (0, 0, 1), 48, 32)
        for _ in range(3)
    ]
    scene = with_cameras(scene, *views)
    scores = scores_of(upload, renderer, scene, views=3, view_width=48)
    assert [v.width for v in score_views(scene, PruneSettings(views=3, view_width=48))] == [48] * 3
    assert len(score_views(scene, PruneSettings(views=24))) == 24  # too few cameras: rings
    per_view = [reference_contributions(scene, v) for v in views]
    significance = sum(ref.weights for ref in per_view)
    tolerance = 48 * 32 * 3 / 2**20 + 1e-3 * significance.max()
    np.testing.assert_allclose(scores["significance"], significance, rtol=3e-3, atol=tolerance)
    seen = significance > 1e-3 * significance.max()
    assert seen.sum() > 100
    # tiles as the GPU binned them (checked against the reference in test_contributions)
    gpu_scene = upload(scene)
    settings = RenderSettings()
    tiles = [
        renderer.measure(gpu_scene, FrameInputs(view), settings, weights=True).tiles
        for view in views
    ]
    per_tile = [
        ref.weights / np.maximum(count, 1) for ref, count in zip(per_view, tiles, strict=True)
    ]
    efficiency = np.max(per_tile, axis=0)
    np.testing.assert_allclose(scores["efficiency"], efficiency, rtol=3e-3, atol=tolerance)
    assert (scores["efficiency"][seen] > 0).all()


def test_volume_score_formula():
    scene = layered_scene([0.5, 0.8, 1.0, 0.2], [1.0, 2.0, 3.0, 4.0])
    scales = np.array([[0.1] * 3, [0.2] * 3, [0.4] * 3, [0.8] * 3], np.float32)
    scene = dataclasses.replace(scene, scales=scales)
    volume = np.prod(scales.astype(np.float64), axis=1)
    v90 = np.quantile(volume, 0.9)
    expected = scene.opacities * (volume / v90) ** 0.1
    np.testing.assert_allclose(volume_scores(scene), expected, rtol=1e-12)


def test_ranking_is_stable_and_keeps_the_asked_share():
    rng = np.random.default_rng()
    scores = rng.integers(0, 5, size=1000).astype(np.float32)  # many ties
    mask = keep_mask(scores, PruneSettings(keep=0.37))
    assert mask.sum() == 370
    assert scores[mask].min() >= scores[~mask].max()
    tied = scores[mask].min()
    kept_ties = np.flatnonzero(mask & (scores == tied))
    dropped_ties = np.flatnonzero(~mask & (scores == tied))
    assert kept_ties.max() < dropped_ties.min()  # ties go to the lower index
    assert np.array_equal(mask, keep_mask(scores.copy(), PruneSettings(keep=0.37)))
    assert keep_mask(scores, PruneSettings(keep=1.0)).all()
    assert not keep_mask(scores, PruneSettings(keep=0.0)).any()
    by_threshold = keep_mask(scores, PruneSettings(keep=0.1, threshold=3.0))
    assert np.array_equal(by_threshold, scores >= 3.0)


def test_pruning_writes_only_the_flags(renderer, upload):
    rng = np.random.default_rng()
    scene = random_scene(rng, 300, sh_degree=1)
    camera = Camera.look_at((0, -2.2, 0.4), (0, 0, 0), (0, 0, 1), 40, 30)
    gpu_scene = upload(scene)
    data = [b for name, b in gpu_scene.chunks[0].buffers.items() if name != "flags"]
    data_before = [b.read() for b in data]
    keep = keep_mask(volume_scores(scene), PruneSettings(keep=0.4))
    gpu_scene.write_flags(prune_flags(keep))
    image = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings())
    assert [b.read() for b in data] == data_before
    flags = gpu_scene.read("flags")
    assert np.array_equal(flags == FLAG_PRUNED, ~keep)
    ref = render_scene_reference(scene.subset(keep), camera, RenderSettings())
    assert psnr(image, ref) >= MIN_PSNR


def test_views_around_the_bounds_without_cameras():
    scene = random_scene(np.random.default_rng(), 200)
    views = score_views(scene, PruneSettings(views=7, view_width=90))
    assert len(views) == 7 and {(v.width, v.height) for v in views} == {(90, 51)}
    centre = (scene.robust_bounds()[0] + scene.robust_bounds()[1]) / 2
    for view in views:  # each looks at the centre of the bounds
        t = view.world_to_camera[:3, :3] @ centre + view.world_to_camera[:3, 3]
        assert t[2] > 0 and abs(t[0]) < 1e-6 * t[2] + 1e-9 and abs(t[1]) < 1e-6 * t[2] + 1e-9
    assert len({tuple(np.round(v.position, 6)) for v in views}) == 7


def test_scores_are_cached_in_the_user_cache_and_recomputed_when_the_scene_changes(
    renderer, tmp_path, monkeypatch, upload
):
    path = tmp_path / "scene.ply"
    save_scene(random_scene(np.random.default_rng(), 200), path)
    scene = load_scene(path)
    gpu_scene = upload(scene)
    settings = PruneSettings(views=3, view_width=40)
    first = score_cache.cached_scores(renderer, gpu_scene, scene, settings, 0.2)
    assert list(tmp_path.glob("*.npz")) == []  # nothing beside the scene unasked
    assert len(list(score_cache.user_cache_dir().glob("*.npz"))) == 1
    assert set(first) == set(PRUNING_SCORES)

    def no_compute(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(score_cache, "compute_scores", no_compute)
    again = score_cache.cached_scores(renderer, gpu_scene, scene, settings, 0.2)
    for name in PRUNING_SCORES:
        np.testing.assert_array_equal(again[name], first[name])
    with pytest.raises(AssertionError, match="not used"):  # other views: stale
        score_cache.cached_scores(
            renderer, gpu_scene, scene, dataclasses.replace(settings, views=4), 0.2
        )
    moved = dataclasses.replace(scene, means=scene.means + np.float32(0.01))
    with pytest.raises(AssertionError, match="not used"):  # other Gaussians: stale
        score_cache.cached_scores(renderer, upload(moved), moved, settings, 0.2)


def test_scores_beside_the_scene_on_request(renderer, tmp_path, upload):
    path = tmp_path / "scene.ply"
    save_scene(random_scene(np.random.default_rng(), 100), path)
    scene = load_scene(path)
    settings = PruneSettings(views=2, view_width=32, score_cache="beside")
    score_cache.cached_scores(renderer, upload(scene), scene, settings, 0.2)
    assert (tmp_path / "scene.ply.scores.npz").exists()
    assert list(score_cache.user_cache_dir().glob("*.npz")) == []


def test_concurrent_saves_of_one_cache_leave_a_whole_file(tmp_path):
    """Processes saving the same cache at once (they used to share one temporary name)."""
    import multiprocessing

    target = tmp_path / "scores.npz"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(6)
    workers = [
        context.Process(target=_save_after_barrier, args=(target, seed, start)) for seed in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    keys = {f"key {seed}" for seed in range(6)}
    with np.load(target) as data:  # one whole file from one of the writers
        assert str(data["key"]) in keys
        seed = int(str(data["key"]).split()[1])
        np.testing.assert_array_equal(data["opacity"], np.full(50_000, seed, np.float32))
    assert [p.name for p in tmp_path.iterdir()] == ["scores.npz"]  # no temporaries left


def _save_after_barrier(target, seed, barrier) -> None:
    scores = {name: np.full(50_000, seed, np.float32) for name in PRUNING_SCORES}
    barrier.wait()
    for _ in range(5):
        score_cache.save_scores([target], f"key {seed}", scores)


def test_read_only_folders_get_the_user_cache(renderer, tmp_path, upload):
    folder = tmp_path / "ro"
    folder.mkdir()
    save_scene(random_scene(np.random.default_rng(), 100), folder / "s.ply")
    folder.chmod(0o555)
    try:
        scene = load_scene(folder / "s.ply")
        gpu_scene = upload(scene)
        settings = PruneSettings(views=2, view_width=32, score_cache="beside")
        score_cache.cached_scores(renderer, gpu_scene, scene, settings, 0.2)
        assert list(folder.iterdir()) == [folder / "s.ply"]
        assert len(list(score_cache.user_cache_dir().glob("*.npz"))) == 1
    finally:
        folder.chmod(0o755)


def test_prune_command_writes_the_kept_gaussians(tmp_path):
    out = tmp_path / "pruned.ply"
    donut = scene_path("donut.ply")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "EGL_PLATFORM": "surfaceless"}
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "prune", str(donut), "--score", "volume", "--keep",
         "0.4", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    full, pruned = load_scene(donut), load_scene(out)
    keep = keep_mask(volume_scores(full).astype(np.float32), PruneSettings(keep=0.4))
    assert pruned.count == round(0.4 * full.count) == keep.sum()
    expected = full.subset(keep)
    for name in ("means", "scales", "rotations", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(pruned, name), getattr(expected, name))
    assert f"kept {pruned.count:,} of {full.count:,}" in result.stdout


def test_prune_command_bad_input_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "prune", str(tmp_path / "missing.ply"), "--out",
         str(tmp_path / "x.ply")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "missing.ply" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "prune", "--keep", "1.5", "--out", "x.ply"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2 and "keep" in result.stderr


def test_bench_prune_shorthand():
    from viewer.bench.configs import parse_config

    config = parse_config("p30:prune=significance:0.3,backend=tiles")
    assert (config.prune.score, config.prune.keep, config.raster.backend) == (
        "significance", 0.3, "tiles",
    )  # fmt: skip
    assert parse_shorthand("opacity:0.5") == {"prune.score": "opacity", "prune.keep": "0.5"}
    for bad, message in (("p:prune=nonsense:0.3", "SCORE:KEEP"), ("p:prune=opacity:2", "keep"),
                         ("p:prune=opacity:0.5,keep=0.2", "given twice")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            parse_config(bad)


def test_a_known_ranking_gives_the_same_mask():
    from viewer.features.pruning import ranking

    scores = np.random.default_rng().normal(size=500).astype(np.float32)
    order = ranking(scores)
    for keep in (0.0, 0.13, 0.5, 1.0):
        settings = PruneSettings(keep=keep)
        assert np.array_equal(keep_mask(scores, settings, order), keep_mask(scores, settings))


def test_a_corrupt_cache_file_is_recomputed_and_replaced(renderer, tmp_path, upload):
    path = tmp_path / "scene.ply"
    save_scene(random_scene(np.random.default_rng(), 120), path)
    (tmp_path / "scene.ply.scores.npz").write_bytes(b"not a zip file")
    scene = load_scene(path)
    gpu_scene = upload(scene)
    settings = PruneSettings(views=2, view_width=32, score_cache="beside")
    scores = score_cache.cached_scores(renderer, gpu_scene, scene, settings, 0.2)
    assert set(scores) == set(PRUNING_SCORES)
    with np.load(tmp_path / "scene.ply.scores.npz") as data:
        assert set(data.files) == {"key", *PRUNING_SCORES}


def test_the_viewer_measures_view_scores_only_when_something_needs_them(renderer, tmp_path, upload):
    from viewer.core.pruning_state import PruningState

    path = tmp_path / "scene.ply"
    save_scene(random_scene(np.random.default_rng(), 100), path)
    scene = load_scene(path)
    state = PruningState(renderer, upload(scene), scene)
    settings = PruneSettings(views=2, view_width=32)
    for _ in range(3):  # a scene just opened: nothing measured, nothing written
        assert not state.update(settings, 0.2, wanted=False)
    assert state.job is None and "significance" not in state.scores
    assert list(tmp_path.glob("*.npz")) == [] and not score_cache.user_cache_dir().exists()
    state.update(settings, 0.2, wanted=True)  # pruning asked for: one view per update
    assert state.job is not None and state.job.done == 1
    while not state.update(settings, 0.2, wanted=False):  # a started measurement finishes
        pass
    assert {"significance", "efficiency"} <= set(state.scores)
    assert len(list(score_cache.user_cache_dir().glob("*.npz"))) == 1
