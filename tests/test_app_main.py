"""The `view` command without a display, and the app's action table."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from viewer.app import shortcuts
from viewer.app.actions import AppActions
from viewer.app.commands import Command
from viewer.app.panel import PANEL_ACTIONS
from viewer.app.path_player import PathPlayer


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
    app = SimpleNamespace(  # no window: only the table of handlers is read
        controller=SimpleNamespace(frame=None, reset=None),
        window=SimpleNamespace(close=None),
        player=PathPlayer(),
        open=None,
    )
    handled = set(AppActions(app)._handlers(None))
    wanted = {s.action for s in shortcuts.PRESSED} | set(PANEL_ACTIONS)
    assert handled == wanted == set(Command)  # every command is reachable and has one handler
    assert all(isinstance(name, Command) for name in wanted)
    with pytest.raises(ValueError, match="not a valid Command"):
        Command("no_such_command")


def test_a_big_scene_file_is_announced_before_it_is_read(tmp_path, capsys):
    from viewer.app.main import BIG_FILE_BYTES, _say_when_big

    small, big = tmp_path / "small.ply", tmp_path / "big.ply"
    small.write_bytes(b"ply\n")
    with big.open("wb") as f:
        f.truncate(BIG_FILE_BYTES)  # sparse: no disk used
    _say_when_big(str(small))
    _say_when_big(None)
    assert capsys.readouterr().err == ""
    _say_when_big(str(big))
    assert capsys.readouterr().err == f"splatscope: loading {big} (100 MiB) ...\n"
