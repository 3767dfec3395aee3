"""The `view` command without a display, and the app's action table."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

from viewer.app import shortcuts
from viewer.app.app import ViewerApp
from viewer.app.panel import PANEL_ACTIONS


def test_without_a_display_one_line_points_to_render_and_bench():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "view", "--width", "320", "--height", "200"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "splatscope render" in lines[0] and "splatscope bench" in lines[0]
    assert "Traceback" not in result.stderr


def test_every_shortcut_and_panel_action_has_a_handler():
    app = ViewerApp.__new__(ViewerApp)  # no window: only the table of handlers is read
    app.controller = SimpleNamespace(frame=None, reset=None)
    app.window = SimpleNamespace(close=None)
    handled = set(app._handlers(None))
    wanted = {s.action for s in shortcuts.PRESSED} | set(PANEL_ACTIONS)
    assert handled == wanted
