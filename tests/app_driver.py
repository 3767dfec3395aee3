"""Drive the viewer like a person: a private X server (Xvfb), the viewer in its own process, real
input events from xdotool and screen captures of the X server.

The test process never makes a GL context itself (an EGL context and a GLX window must not share
a process), so the window always lives in a child process.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

SCREEN = (1024, 768)
REPO = Path(__file__).resolve().parents[1]


def missing_tools() -> list[str]:
    """The programs these tests need that are not installed."""
    return [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]


def window_tests() -> list[pytest.MarkDecorator]:
    """The `pytestmark` of a module of window tests: marked, skipped without Xvfb or xdotool."""
    missing = missing_tools()
    reason = f"window tests need {', '.join(missing)} (apt-get install xvfb xdotool)"
    return [pytest.mark.window, pytest.mark.skipif(bool(missing), reason=reason)]


def wait_until(predicate: Callable[[], object], timeout: float, what: str, poll: float = 0.2):
    """Poll `predicate` until it returns something truthy; returns that.

    Raises:
        TimeoutError: naming `what` when `timeout` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


class XServer:
    """An Xvfb server of `size` pixels on a free display number.

    The number is drawn at random from a high range rather than taken as the lowest free one:
    other X servers (of other sandboxes sharing the network namespace, whose lock files this one
    cannot see) hold the low numbers through abstract sockets. A server counts as started once
    a client has connected to it; it does not reset when its last client leaves (`-noreset`):
    once in a full run a viewer was told there was no display, most likely while the probe's
    leaving reset the server.
    """

    def __init__(self, size: tuple[int, int] = SCREEN, attempts: int = 20) -> None:
        rng = random.Random()
        for _ in range(attempts):
            number = rng.randrange(1000, 30000)
            if Path(f"/tmp/.X{number}-lock").exists():
                continue
            read_fd, write_fd = os.pipe()
            self.process = subprocess.Popen(
                ["Xvfb", f":{number}", "-displayfd", str(write_fd), "-screen", "0",
                 f"{size[0]}x{size[1]}x24", "-nolisten", "tcp", "-noreset"],
                pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            os.close(write_fd)
            with os.fdopen(read_fd) as pipe:
                ready = pipe.readline().strip()  # written once the server accepts connections
            self.display = f":{number}"
            if ready == str(number) and self._accepts_clients():
                return
            self.process.kill()
            self.process.wait()
        raise RuntimeError(f"Xvfb did not start on any of {attempts} display numbers")

    def _accepts_clients(self) -> bool:
        """Whether a client reaches this server (not another sandbox's on the same number)."""
        probe = subprocess.run(
            ["xdotool", "getdisplaygeometry"], env=self.env(), capture_output=True, timeout=20
        )
        return probe.returncode == 0

    def env(self) -> dict[str, str]:
        """This process's environment pointed at the server (for child processes only)."""
        env = dict(os.environ, DISPLAY=self.display)
        for name in ("WAYLAND_DISPLAY", "PYOPENGL_PLATFORM"):
            env.pop(name, None)
        return env

    def grab(self) -> np.ndarray:
        """[H, W, 3] uint8 of the whole screen."""
        from PIL import ImageGrab

        return np.asarray(ImageGrab.grab(xdisplay=self.display).convert("RGB"))

    def xdotool(self, *args: str) -> str:
        """Run xdotool on this display; returns its stdout."""
        result = subprocess.run(
            ["xdotool", *args], env=self.env(), capture_output=True, text=True, timeout=20
        )
        if result.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def move(self, x: int, y: int) -> None:
        """Move the pointer to screen pixel (x, y)."""
        self.xdotool("mousemove", str(x), str(y))

    def drag(self, button: int, start: tuple[int, int], end: tuple[int, int], steps: int = 8):
        """Press `button` (1 left, 2 middle, 3 right) at `start`, move to `end`, release."""
        self.move(*start)
        self.xdotool("mousedown", str(button))
        for i in range(1, steps + 1):
            t = i / steps
            self.move(
                round(start[0] + (end[0] - start[0]) * t), round(start[1] + (end[1] - start[1]) * t)
            )
            time.sleep(0.03)
        self.xdotool("mouseup", str(button))

    def scroll(self, at: tuple[int, int], clicks: int) -> None:
        """Turn the wheel over `at`: clicks > 0 away from the user (button 4), else button 5."""
        self.move(*at)
        self.xdotool(
            "click", "--repeat", str(abs(clicks)), "--delay", "30", "4" if clicks > 0 else "5"
        )

    def key(self, *names: str) -> None:
        """Press and release keys (X keysym names: "t", "F12", "Escape") in the focused window."""
        self.xdotool("key", "--delay", "50", *names)

    def close(self) -> None:
        """Stop the server."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Viewer:
    """`python -m viewer view ...` on an X server, in `cwd` (where screenshots land)."""

    def __init__(self, server: XServer, args: Sequence[str], cwd: Path) -> None:
        self.server = server
        self.window_id = ""  # X id of the window, once wait_for_window found it
        self.log = cwd / "viewer.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "viewer", "view", *args],
                cwd=cwd, env=server.env(), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def output(self) -> str:
        """What the viewer printed so far."""
        return self.log.read_text()

    def wait_for_window(
        self, timeout: float = 60.0, name: str = "splatscope - "
    ) -> tuple[int, int, int, int]:
        """Wait until the viewer's window shows a scene; returns its (x, y, width, height).

        `name`: a part of the window's title (a live window's: "... Gaussians"). The window's X
        id is kept in `window_id`.

        The window is looked for among the mapped ones: the viewer maps it just before swapping
        its first frame. Its title names the scene from before that, while the first frame is
        still being drawn (seconds under load), and a window found by title alone could still be
        blank: three equal grabs of it read as a settled, empty view.
        """

        def window():
            if self.process.poll() is not None:
                raise RuntimeError(f"the viewer exited early:\n{self.output()}")
            found = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", name],
                env=self.server.env(), capture_output=True, text=True,
            )  # fmt: skip
            return found.stdout.split()[:1]

        window_id = wait_until(window, timeout, "the viewer window")[0]
        self.window_id = window_id
        geometry = self.server.xdotool("getwindowgeometry", "--shell", window_id)
        values = dict(line.split("=") for line in geometry.split())
        return tuple(int(values[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))

    def title(self) -> str:
        """The title of the window `wait_for_window` found."""
        return self.server.xdotool("getwindowname", self.window_id).strip()

    def stop(self) -> int:
        """End the viewer (if it still runs); returns its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def settled(
    server: XServer, region: Callable[[np.ndarray], np.ndarray], timeout: float = 30.0
) -> np.ndarray:
    """`region` of the screen once it stayed the same (but for a few pixels, e.g. an FPS counter)
    over three grabs 0.4 s apart."""
    grabs = [region(server.grab())]

    def calm():
        time.sleep(0.4)
        grabs.append(region(server.grab()))
        recent = grabs[-3:]
        return len(recent) == 3 and all(changed_fraction(recent[0], g) < 0.002 for g in recent)

    wait_until(calm, timeout, "the screen to stop changing", poll=0.0)
    return grabs[-1]


def changed(
    server: XServer,
    region: Callable[[np.ndarray], np.ndarray],
    before: np.ndarray,
    fraction: float,
    timeout: float = 30.0,
) -> np.ndarray:
    """`region` of the screen, settled, once more than `fraction` of it differs from `before`.

    Raises:
        TimeoutError: when it does not change that much within `timeout` seconds.
    """
    wait_until(
        lambda: changed_fraction(before, region(server.grab())) > fraction,
        timeout,
        f"more than {fraction:.0%} of the region to change",
    )
    return settled(server, region, timeout)


def changed_fraction(a: np.ndarray, b: np.ndarray, tolerance: int = 8) -> float:
    """Fraction of pixels whose largest channel difference exceeds `tolerance`."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    return float((diff > tolerance).mean())
