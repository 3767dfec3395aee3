"""The live window process's entry point (a module-level function, so that spawn can find it).

It imports the app (GLFW, ImGui) only inside the window process: the trainer never loads them.
Ctrl+C in the terminal reaches the whole process group; the trainer owns it (it saves and then
closes the window through the pipe), so the window process ignores SIGINT: a KeyboardInterrupt
there, in the middle of drawing or of shutting GLFW down, printed a traceback.
"""

from __future__ import annotations

import signal
from typing import Any

from viewer.protocol import LiveOptions


def run_window(conn: Any, options: LiveOptions) -> None:
    """Run the live window on `conn` until it is closed or the trainer goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from viewer.app.live_app import run_live_window

    run_live_window(conn, options)
