"""`splatscope view --network-gui` under Xvfb against a fake trainer (tests/netgui_server.py):
the trainer's solid-colour image fills the view and a drag moves the camera it is sent; with a
stalled trainer the window keeps answering."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.app_driver import Viewer, XServer, changed, settled, wait_until, window_tests
from tests.netgui_server import FakeTrainer

pytestmark = window_tests()

WIDTH, HEIGHT = 640, 360
COLOUR = (0, 200, 255)
VIEW = (slice(10, 130), slice(430, 630))  # right of the panel, above the Network GUI window


@pytest.fixture
def server() -> Iterator[XServer]:
    server = XServer()
    yield server
    server.close()


def test_the_trainers_image_shows_and_the_camera_drives_it(server, tmp_path) -> None:
    trainer = FakeTrainer(colour=COLOUR)
    address = f"127.0.0.1:{trainer.port}"
    args = ["--network-gui", address, "--width", str(WIDTH), "--height", str(HEIGHT)]
    viewer = Viewer(server, args, tmp_path)
    try:
        x, y, w, h = viewer.wait_for_window()

        def view() -> np.ndarray:
            return server.grab()[y : y + h, x : x + w][VIEW]

        wait_until(lambda: np.all(view() == COLOUR), 60, "the trainer's image in the view")
        first = trainer.requests[0]
        assert (first["resolution_x"], first["resolution_y"]) == (WIDTH, HEIGHT)
        before = trainer.requests[-1]["view_matrix"]
        server.drag(1, (x + 450, y + 60), (x + 600, y + 90))
        wait_until(lambda: trainer.requests[-1]["view_matrix"] != before, 60, "a new camera sent")
        server.key("Escape", "Escape")  # a second Esc within a second quits
        assert viewer.process.wait(timeout=30) == 0
        assert "Traceback" not in viewer.output()
    finally:
        viewer.stop()
        trainer.close()


def test_a_stalled_trainer_leaves_the_window_responsive(server, tmp_path) -> None:
    trainer = FakeTrainer(modes=("stall",))
    args = ["--network-gui", f"127.0.0.1:{trainer.port}", "--width", str(WIDTH)]
    viewer = Viewer(server, [*args, "--height", str(HEIGHT)], tmp_path)
    try:
        x, y, w, _ = viewer.wait_for_window()
        wait_until(lambda: trainer.requests, 60, "the first request")

        def corner(screen: np.ndarray) -> np.ndarray:
            return screen[y : y + 60, x + w - 200 : x + w]

        before = settled(server, corner)
        server.key("t")  # the timing overlay opens while the reply never comes
        changed(server, corner, before, 0.05)
        server.key("Escape", "Escape")
        assert viewer.process.wait(timeout=30) == 0
        assert "Traceback" not in viewer.output()
    finally:
        viewer.stop()
        trainer.close()
