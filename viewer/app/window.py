"""The GLFW window: an OpenGL 4.3 core, forward-compatible context, HiDPI sizes and vsync.

The window appears with its first frame, not before: drawing that frame (scene upload, shader
builds, the first sort) can take seconds, and an empty window meanwhile looks like a hang (and
reads as "ready" to anything that waits for the window to exist, such as the window tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import glfw

from viewer.render.context import REQUIRED_GL, GLUnavailableError


class NoDisplayError(RuntimeError):
    """No display to open a window on (no DISPLAY/WAYLAND_DISPLAY, or GLFW cannot start)."""


class _GlfwErrors:
    """Keeps GLFW's error messages instead of pyGLFW's default warnings."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, code: int, description: bytes) -> None:
        self.last = description.decode(errors="replace")


_errors = _GlfwErrors()


def init_glfw() -> None:
    """Start GLFW.

    Raises:
        NoDisplayError: when there is no display to open windows on.
    """
    glfw.set_error_callback(cast(Any, _errors))  # pyGLFW passes bytes; its stub says str
    if not glfw.init():
        raise NoDisplayError(_errors.last or "GLFW could not start")


class Window:
    """A resizable window whose OpenGL context is current on this thread.

    Sizes: `window_size` is in screen coordinates (mouse positions), `framebuffer_size` in pixels;
    they differ on HiDPI screens. Both are read once, then kept from GLFW's resize events (read
    when the app polls), so a frame asks the X server for none: each ask is a round trip, 1.4 ms
    a frame on llvmpipe when every user of a size asked. `on_resize` is called after a change.
    """

    def __init__(self, width: int, height: int, title: str, vsync: bool) -> None:
        """Open the window (GLFW must be started with `init_glfw`).

        Raises:
            GLUnavailableError: when no OpenGL 4.3 core context can be made for it.
        """
        glfw.default_window_hints()
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, REQUIRED_GL // 100)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, REQUIRED_GL % 100 // 10)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, glfw.TRUE)
        glfw.window_hint(glfw.RESIZABLE, glfw.TRUE)
        glfw.window_hint(glfw.SCALE_TO_MONITOR, glfw.TRUE)
        glfw.window_hint(glfw.VISIBLE, glfw.FALSE)  # shown by the first `swap`
        self.handle = glfw.create_window(width, height, title, None, None)
        if not self.handle:
            raise GLUnavailableError(
                f"cannot open a window with OpenGL {REQUIRED_GL // 100}.{REQUIRED_GL % 100 // 10} "
                f"core ({_errors.last or 'unknown GLFW error'})"
            )
        glfw.make_context_current(self.handle)
        self.set_vsync(vsync)
        self.shown = False  # until the first frame is swapped
        self.on_resize: Callable[[], None] = lambda: None
        self.framebuffer_size: tuple[int, int] = glfw.get_framebuffer_size(self.handle)
        """Drawable size in pixels."""
        self.window_size: tuple[int, int] = glfw.get_window_size(self.handle)
        """Size in screen coordinates (the unit of mouse positions)."""
        glfw.set_framebuffer_size_callback(self.handle, self._on_framebuffer_size)
        glfw.set_window_size_callback(self.handle, self._on_window_size)

    def _on_framebuffer_size(self, _handle: Any, width: int, height: int) -> None:
        self.framebuffer_size = (width, height)
        self.on_resize()

    def _on_window_size(self, _handle: Any, width: int, height: int) -> None:
        self.window_size = (width, height)
        self.on_resize()

    @property
    def content_scale(self) -> float:
        """The monitor's UI scale for this window (1 on ordinary screens, 2 on many HiDPI ones)."""
        return float(max(glfw.get_window_content_scale(self.handle)))

    @property
    def minimized(self) -> bool:
        """True while nothing can be drawn (minimised: zero-sized framebuffer)."""
        width, height = self.framebuffer_size
        return width == 0 or height == 0

    @property
    def should_close(self) -> bool:
        """True once the user asked to close the window."""
        return bool(glfw.window_should_close(self.handle))

    def close(self) -> None:
        """Ask the main loop to end."""
        glfw.set_window_should_close(self.handle, True)

    def set_vsync(self, on: bool) -> None:
        """Wait for the display's refresh on each swap (True) or swap at once (False)."""
        glfw.swap_interval(1 if on else 0)

    def set_title(self, title: str) -> None:
        """Change the window title."""
        glfw.set_window_title(self.handle, title)

    def swap(self) -> None:
        """Show the frame drawn; the first one also shows the window.

        The window is mapped before the buffers are swapped: a frame swapped onto a window that
        is not mapped yet may be dropped (software GL on X11 copies it into the window).
        """
        if not self.shown:
            glfw.show_window(self.handle)
            self.shown = True
        glfw.swap_buffers(self.handle)
