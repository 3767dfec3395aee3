"""The live window process's entry point (a module-level function, so that spawn can find it).

It imports the app (GLFW, ImGui) only inside the window process: the trainer never loads them.
"""

from __future__ import annotations

from typing import Any

from viewer.protocol import LiveOptions


def run_window(conn: Any, options: LiveOptions) -> None:
    """Run the live window on `conn` until it is closed or the trainer goes away."""
    from viewer.app.live_app import run_live_window

    run_live_window(conn, options)
