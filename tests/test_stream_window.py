"""A streamed SOG in the window under Xvfb: it opens coarse, refines, and settles to the image of
the scene read whole; the title counts the streamed Gaussians."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.app_driver import Viewer, XServer, changed_fraction, settled, wait_until, window_tests
from tests.stream_scenes import write_row
from viewer.camera import Camera

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


def test_a_streamed_scene_refines_to_the_scene_read_whole(server, tmp_path) -> None:
    path = write_row(tmp_path)
    camera = Camera.look_at(np.array([-3.0, -2.0, 1.0]), np.array([8.0, 0, 0]), (0, 0, 1), WIDTH,
                            HEIGHT)  # fmt: skip
    (tmp_path / "camera.json").write_text(json.dumps(camera.to_dict()))
    common = [str(path), "--camera", str(tmp_path / "camera.json")]
    streamed = _view(server, tmp_path, [*common, "--stream.detail", "0.05"], "4,000 streamed")
    whole = _view(server, tmp_path, [*common, "--lod-level", "0"], "4,000 Gaussians")
    assert len(np.unique(whole.reshape(-1, 3), axis=0)) > 50  # the row is in view
    assert changed_fraction(streamed, whole) < 0.002
