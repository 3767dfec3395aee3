"""A streamed SOG in the window under Xvfb, ours and one made by splat-transform: it opens
coarse, refines, and settles to the image of the scene read whole; the title counts the
streamed Gaussians."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests import splat_transform
from tests.app_driver import Viewer, XServer, changed_fraction, settled, wait_until, window_tests
from tests.stream_scenes import row_scene, write_row
from viewer.camera import Camera
from viewer.formats import save_scene

pytestmark = window_tests()

WIDTH, HEIGHT = 480, 320


@pytest.fixture
def server() -> Iterator[XServer]:
    server = XServer()
    yield server
    server.close()


def _view(server: XServer, tmp_path: Path, args: list[str], title: str) -> np.ndarray:
    """The settled window of `view args`, panel hidden; checks the title names `title`."""
    viewer = Viewer(server, [*args, "--width", str(WIDTH), "--height", str(HEIGHT)], tmp_path)
    try:
        x, y, w, h = viewer.wait_for_window(120)
        wait_until(
            lambda: server.xdotool("search", "--name", title).strip(), 30, f"the title {title!r}"
        )
        server.key("u")  # the panel hidden: the whole window is view
        image = settled(server, lambda grab: grab[y : y + h, x : x + w], timeout=120)
        assert "Traceback" not in viewer.output() and "error" not in viewer.output()
        return image
    finally:
        viewer.stop()


CAMERA = Camera.look_at(np.array([-3.0, -2.0, 1.0]), np.array([8.0, 0, 0]), (0, 0, 1), WIDTH,
                        HEIGHT)  # fmt: skip


def _refines_to_the_whole(server: XServer, tmp_path: Path, path: Path, count: str) -> None:
    (tmp_path / "camera.json").write_text(json.dumps(CAMERA.to_dict()))
    common = [str(path), "--camera", str(tmp_path / "camera.json")]
    streamed = _view(server, tmp_path, [*common, "--stream.detail", "0.05"], f"{count} streamed")
    whole = _view(server, tmp_path, [*common, "--lod-level", "0"], f"{count} Gaussians")
    assert len(np.unique(whole.reshape(-1, 3), axis=0)) > 50  # the row is in view
    assert changed_fraction(streamed, whole) < 0.002  # 1.4 % at the coarsest level


def test_a_streamed_scene_refines_to_the_scene_read_whole(server, tmp_path) -> None:
    _refines_to_the_whole(server, tmp_path, write_row(tmp_path), "4,000")


def test_splat_transforms_streamed_scene_refines_in_the_window(server, tmp_path) -> None:
    """The tool's own streamed SOG (level 1 every 4th Gaussian, 1-unit leaves)."""
    cli = splat_transform.ensure_installed()
    scene = row_scene()
    save_scene(scene, tmp_path / "fine.ply")
    save_scene(scene.subset(np.arange(0, scene.count, 4)), tmp_path / "coarse.ply")
    index = tmp_path / "theirs" / "lod-meta.json"
    splat_transform.convert(
        cli, tmp_path / "fine.ply", index, "-l", "0", tmp_path / "coarse.ply", "-l", "1",
        "--lod-chunk-count", "1", "--lod-chunk-extent", "4", "--lod-chunk-min", "0",
    )  # fmt: skip
    _refines_to_the_whole(server, tmp_path, index, "4,000")
