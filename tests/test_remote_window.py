"""Watching a real training in a real window under Xvfb (issue 22's "done when").

- `train --serve 127.0.0.1:0 --token T` and the command it prints, `view tcp://HOST:PORT --token
  T`: the window follows the training (its drawing and its title's Gaussian count change); a
  wrong or a missing token is refused with one line, no window, and nothing it sends is applied
  (the window keeps following, the training keeps its one viewer).
- `train --nproc 2 --view`: rank 0 alone opens the live window, which follows the two ranks.

Both wait on events (lines printed, windows mapped, pixels and titles changing), never on
wall-clock thresholds; the deadlines are safety nets.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.app_driver import REPO, Viewer, XServer, changed_fraction, wait_until, window_tests
from viewer.remote.codec import encode_hello, encode_state
from viewer.remote.frames import HEADER, Kind, frame
from viewer.settings import LiveControls

pytestmark = window_tests()

TOKEN = "window-test-token"
WIDTH, HEIGHT = 1000, 700
VIEW = (slice(20, 320), slice(400, 650))  # the model: right of the panel, above the Training window
# 8 training views of 32x32, 200 Gaussians densified every 2 steps: the count changes soon
TRAIN = ("--iterations", "1000000", "--init-count", "200", "--densify-from", "2",
         "--densify-every", "2", "--densify-grad", "0.003", "--train.sh-degree", "1",
         "--train.backend", "reference", "--device", "cpu", "--width", str(WIDTH),
         "--height", str(HEIGHT))  # fmt: skip
LIVE_TITLE = "Gaussians"  # the live window's title: "training small - 1,234 Gaussians"


@pytest.fixture
def server() -> Iterator[XServer]:
    server = XServer()
    yield server
    server.close()


class Training:
    """`splatscope train ...` in its own process on `server`'s display, its output to a file."""

    def __init__(self, server: XServer, args: list[str], log: Path) -> None:
        self.log = log
        env = {**server.env(), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        with log.open("w") as file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "viewer", "train", *args], stdout=file,
                stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 300.0) -> re.Match[str]:
        """The first match of `pattern` in what the training printed (waiting for it)."""

        def found() -> re.Match[str] | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"the training exited early:\n{self.output()}")
            return re.search(pattern, self.output())

        return wait_until(found, timeout, repr(pattern))

    def interrupt(self) -> int:
        """Ctrl-C; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=300)
        finally:
            if self.process.poll() is None:
                self.process.kill()


def gaussians(title: str) -> int:
    """The Gaussian count in a live window's title."""
    found = re.search(r"([\d,]+) Gaussians$", title)
    assert found, title
    return int(found.group(1).replace(",", ""))


def windows(server: XServer, name: str = LIVE_TITLE) -> list[str]:
    """X ids of the mapped windows whose title holds `name`."""
    found = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name], env=server.env(),
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    return found.stdout.split()


def follows(server: XServer, region, title, before: tuple[np.ndarray, int]) -> tuple:
    """Wait until the drawing and the title's count both differ from `before`; the new pair."""
    image, count = before
    wait_until(lambda: changed_fraction(image, region()) > 0.01, 120, "the drawing to change")
    wait_until(lambda: gaussians(title()) != count, 120, "the title's count to change")
    return region(), gaussians(title())


def test_a_served_training_drives_the_window_and_a_wrong_token_changes_nothing(
    server, small_data, tmp_path
):
    training = Training(
        server, [str(small_data), "--out", str(tmp_path / "out"), "--serve", "127.0.0.1:0",
                 "--token", TOKEN, *TRAIN], tmp_path / "train.log",
    )  # fmt: skip
    viewer = None
    try:
        # the command the training prints, as a user would paste it
        command = training.wait_for(r"watch it with: (splatscope view .*)").group(1)
        words = shlex.split(command)
        assert words[:2] == ["splatscope", "view"] and words[-2:] == ["--token", TOKEN], command
        address = words[2]
        host, port = address.removeprefix("tcp://").rsplit(":", 1)
        viewer = Viewer(server, [*words[2:], "--width", str(WIDTH), "--height", str(HEIGHT)],
                        tmp_path)  # fmt: skip
        x, y, _, _ = viewer.wait_for_window(300, name=LIVE_TITLE)
        assert viewer.title().startswith(f"training {small_data.name} - ")

        def region() -> np.ndarray:
            return server.grab()[y : y + HEIGHT, x : x + WIDTH][VIEW]

        seen = follows(server, region, viewer.title, (region(), gaussians(viewer.title())))

        # refused: one line, exit 2, no window; nothing sent after a bad hello is applied
        for args in (["--token", "wrong"], []):
            done = subprocess.run(
                [sys.executable, "-m", "viewer", "view", address, *args], capture_output=True,
                text=True, timeout=120, env={**server.env(), "PYTHONPATH": str(REPO)},
            )  # fmt: skip
            reason = "wrong token" if args else "missing token"
            assert done.returncode == 2, done.stderr
            assert done.stderr.count("\n") == 1, done.stderr
            assert done.stderr.startswith("splatscope: error:") and reason in done.stderr
            with socket.create_connection((host, int(port))) as raw:
                pause = encode_state(0, LiveControls(paused=True), 5)
                hello = encode_hello(args[1] if args else "")
                raw.sendall(frame(Kind.HELLO, hello) + frame(Kind.STATE, pause))
                assert raw.recv(HEADER.size)[0] == Kind.REFUSED
        assert windows(server) == [viewer.window_id]  # the refused viewers opened none
        follows(server, region, viewer.title, seen)  # not paused, still this viewer's
        log = training.output()
        assert log.count("refused a viewer from") == 4 and "wrong token" in log, log
        assert "missing token" in log and not re.search(r"the viewer from .* left", log), log

        server.key("Escape", "Escape")  # a second Esc within a second quits
        assert viewer.process.wait(timeout=60) == 0
        assert "Traceback" not in viewer.output(), viewer.output()
        training.wait_for(r"the viewer from .* left")
    finally:
        if viewer is not None:
            viewer.stop()
        code = training.interrupt()
    assert code == 130, training.output()
    assert "Traceback" not in training.output(), training.output()


@pytest.mark.distributed
def test_two_ranks_with_view_open_one_live_window_that_follows_them(server, small_data, tmp_path):
    out = tmp_path / "out"
    training = Training(
        server, [str(small_data), "--out", str(out), "--nproc", "2", "--train.batch", "2",
                 "--view", *TRAIN], tmp_path / "train.log",
    )  # fmt: skip
    try:
        training.wait_for(r"in 2 processes")
        found = wait_until(lambda: windows(server), 300, "the live window")
        (window,) = found
        geometry = server.xdotool("getwindowgeometry", "--shell", window)
        values = dict(line.split("=") for line in geometry.split())
        x, y = int(values["X"]), int(values["Y"])

        def title() -> str:
            return server.xdotool("getwindowname", window).strip()

        def region() -> np.ndarray:
            return server.grab()[y : y + HEIGHT, x : x + WIDTH][VIEW]

        assert title().startswith(f"training {small_data.name} - ")
        follows(server, region, title, (region(), gaussians(title())))
        assert windows(server) == [window]  # rank 1 opened none
        server.move(x + 500, y + 100)  # no window manager: the keys go where the pointer is
        server.key("Escape", "Escape")  # the window closes; the ranks train on
        wait_until(lambda: not windows(server), 60, "the window closed")
        assert training.process.poll() is None, training.output()
    finally:
        code = training.interrupt()
    log = training.output()
    assert code == 130, log
    assert "interrupted: saved step" in log and "Traceback" not in log, log
    assert log.count("live view") <= 1, log  # rank 0's notes only, if any
    assert any(p.name.startswith("chkpnt") for p in out.iterdir()), os.listdir(out)
