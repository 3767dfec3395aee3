"""Crop box flags, histograms, screenshot names and sizes, and the background scene loader."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.app.capture import screenshot_path, screenshot_size
from viewer.app.scene_loader import SceneLoader
from viewer.core.inspection import HISTOGRAM_BINS, CropBox, crop_flags, histogram, scene_histograms
from viewer.errors import SceneError
from viewer.render.layout import FLAG_HIDDEN


def test_crop_flags_hide_exactly_the_centres_outside_the_box():
    rng = np.random.default_rng(0)
    means = rng.uniform(-2, 2, size=(5000, 3)).astype(np.float32)
    box = CropBox(True, (-1.0, -0.5, 0.0), (1.0, 2.0, 0.5))
    flags = crop_flags(means, box)
    assert flags.dtype == np.uint32 and flags.shape == (5000,)
    inside = (
        (means[:, 0] >= -1) & (means[:, 0] <= 1)
        & (means[:, 1] >= -0.5) & (means[:, 1] <= 2)
        & (means[:, 2] >= 0) & (means[:, 2] <= 0.5)
    )  # fmt: skip
    np.testing.assert_array_equal(flags == FLAG_HIDDEN, ~inside)
    assert set(np.unique(flags)) <= {0, FLAG_HIDDEN}


def test_a_disabled_box_hides_nothing():
    means = np.full((10, 3), 100.0, np.float32)
    np.testing.assert_array_equal(crop_flags(means, CropBox(False, (0, 0, 0), (1, 1, 1))), 0)


def test_box_around_bounds_keeps_everything():
    means = np.random.default_rng(1).normal(size=(100, 3)).astype(np.float32)
    box = CropBox.around(means.min(axis=0), means.max(axis=0))
    assert not box.enabled
    enabled = CropBox(True, box.lo, box.hi)
    np.testing.assert_array_equal(crop_flags(means, enabled), 0)


def test_histogram_counts_every_value_once():
    values = np.array([-1.0, 0.0, 0.1, 0.5, 0.99, 1.0, 7.0])
    hist = histogram("v", values, 0.0, 1.0)
    assert hist.counts.sum() == len(values)
    assert hist.counts[0] == 2 and hist.counts[-1] == 3  # out-of-range values land in end bins
    assert len(hist.centers) == HISTOGRAM_BINS
    assert hist.width == pytest.approx(1.0 / HISTOGRAM_BINS)


def test_scene_histograms():
    scene = random_scene(np.random.default_rng(2), 500)
    opacity, scale = scene_histograms(scene)
    assert opacity.counts.sum() == scene.count == scale.counts.sum()
    assert opacity.centers[0] > 0.0 and opacity.centers[-1] < 1.0
    assert scale.label.startswith("log10")


def test_histograms_of_identical_scales():
    scene = random_scene(np.random.default_rng(3), 1)
    _, scale = scene_histograms(scene)
    assert scale.counts.sum() == 1 and np.isfinite(scale.centers).all()


def test_screenshot_names_are_new_files(tmp_path):
    now = datetime.datetime(2024, 5, 6, 7, 8, 9)
    first = screenshot_path(tmp_path, now)
    assert first.name == "splatscope-20240506-070809.png"
    first.write_bytes(b"")
    second = screenshot_path(tmp_path, now)
    assert second.name == "splatscope-20240506-070809-1.png"


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(0, 0, (640, 360)), (1920, 0, (1920, 1080)), (0, 720, (1280, 720)), (100, 100, (100, 100))],
)
def test_screenshot_size(width, height, expected):
    assert screenshot_size((640, 360), width, height) == expected


def wait(loader: SceneLoader):
    import time

    deadline = time.monotonic() + 30
    while (result := loader.poll()) is None:
        assert time.monotonic() < deadline, "load did not finish"
        time.sleep(0.01)
    return result


def test_loader_returns_scenes_and_errors_of_the_newest_request():
    scene = random_scene(np.random.default_rng(4), 10)

    def read(path):
        if path == "bad.ply":
            raise SceneError(path, "truncated file")
        return scene

    loader = SceneLoader(read)
    assert loader.busy == "" and loader.poll() is None
    loader.request("good.ply")
    good = wait(loader)
    assert good.path == "good.ply" and good.scene is scene and good.error == ""
    loader.request("good.ply")
    loader.request("bad.ply")  # supersedes the first: its scene is dropped
    assert loader.busy == "bad.ply"
    bad = wait(loader)
    assert bad.scene is None and "truncated file" in bad.error and "bad.ply" in bad.error
    assert loader.busy == "" and loader.poll() is None
    loader.shutdown()


def test_loader_reports_unexpected_exceptions():
    def read(path):
        raise MemoryError

    loader = SceneLoader(read)
    loader.request("huge.ply")
    assert wait(loader).error == "MemoryError"
    loader.shutdown()


def test_window_coordinates_map_to_framebuffer_pixels_on_hidpi():
    from viewer.core.inspection import window_to_pixel

    assert window_to_pixel(10.2, 5.9, (640, 360), (640, 360)) == (10, 5)
    assert window_to_pixel(10.2, 5.9, (640, 360), (1280, 720)) == (20, 11)
    assert window_to_pixel(-3.0, 900.0, (640, 360), (1280, 720)) == (0, 719)


def test_surface_depth_prefers_the_half_opaque_depth_then_the_top_gaussian():
    from viewer.camera import Camera
    from viewer.core.inspection import surface_depth
    from viewer.render.layout import NO_GAUSSIAN, PIXEL_DTYPE

    camera = Camera(10, 10, 10, 10, 5, 5, np.eye(4))  # looks down +z
    means = np.array([[0, 0, 4.0], [0, 0, -1.0]], np.float32)
    record = np.zeros((), PIXEL_DTYPE)
    record["median_depth"], record["top_gaussian"] = 2.5, 0
    assert surface_depth(record, camera, means) == 2.5
    record["median_depth"] = 0.0
    assert surface_depth(record, camera, means) == 4.0
    record["top_gaussian"] = 1  # behind the camera
    assert surface_depth(record, camera, means) is None
    record["top_gaussian"] = NO_GAUSSIAN
    assert surface_depth(record, camera, means) is None
