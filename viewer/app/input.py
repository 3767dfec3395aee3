"""GLFW input to ImGui first, then (what ImGui does not want) to the viewer's handler.

Keys: while a text field is being edited, every key goes to it. Otherwise the shortcuts' keys go
to the viewer only, whatever window has focus (ImGui would take Tab to jump into a text field),
and every other key to ImGui as well.
"""

from __future__ import annotations

import math
from typing import Any, Protocol, cast

import glfw
from imgui_bundle import imgui
from imgui_bundle.python_backends.glfw_backend import GlfwRenderer

from viewer.app.shortcuts import HELD, PRESSED

CLICK_SLOP = 4.0  # window units a press may move and still count as a click
DOUBLE_CLICK_SECONDS = 0.4
DOUBLE_PRESS_SECONDS = 1.0  # a shortcut key pressed again within this is pressed "again"

_BUTTONS = {
    glfw.MOUSE_BUTTON_LEFT: "left",
    glfw.MOUSE_BUTTON_RIGHT: "right",
    glfw.MOUSE_BUTTON_MIDDLE: "middle",
}


class InputHandler(Protocol):
    """What the viewer does with input ImGui left alone."""

    def perform(self, action: str, argument=None) -> None:
        """Run a shortcut's action (see `viewer.app.shortcuts.PRESSED`).

        `argument` is True when the same key was pressed less than DOUBLE_PRESS_SECONDS before
        (Esc twice quits).
        """

    def drag(self, button: str, dx: float, dy: float) -> None:
        """The mouse moved by (dx, dy) window units with `button` held since a press on the view."""

    def scroll(self, steps: float) -> None:
        """The wheel turned by `steps` over the view."""

    def click(self, x: float, y: float) -> None:
        """The left button was pressed and released at (x, y) window units over the view."""

    def double_click(self, x: float, y: float) -> None:
        """A second click at (x, y) soon after a first one nearby."""

    def drop(self, paths: list[str]) -> None:
        """Files were dropped on the window."""


def _key_codes(names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(getattr(glfw, f"KEY_{name}") for name in names)


def _mod_bits(names: tuple[str, ...]) -> int:
    bits = 0
    for name in names:
        bits |= getattr(glfw, f"MOD_{name}")
    return bits


SHORTCUT_MODS = _mod_bits(("CONTROL", "ALT", "SUPER"))  # modifiers a shortcut must match


def text_field_active() -> bool:
    """Whether a text field is being edited (an InputText, or a slider or drag typed into).

    Read from ImGui's active item, which is current as soon as a frame has been drawn; ImGui's
    `io.want_text_input` is only updated in the next `new_frame`.
    """
    active = imgui.internal.get_active_id()
    return bool(active) and imgui.internal.get_input_text_state(active) is not None


def over_ui(x: float, y: float) -> bool:
    """True when (x, y) lies on a window ImGui drew last frame (panel, overlay, open popups).

    Decided from the windows' rectangles rather than `io.want_capture_mouse`, which is only
    updated in the next `new_frame` and so is stale by a whole (possibly slow) frame.
    """
    for window in imgui.get_current_context().windows:
        if window.active and not window.hidden:
            x0, y0 = window.pos.x, window.pos.y
            if x0 <= x < x0 + window.size.x and y0 <= y < y0 + window.size.y:
                return True
    return False


class InputRouter:
    """Installs the window's callbacks; feeds ImGui, then the handler when ImGui does not capture.

    A drag starts only from a press outside ImGui's windows and then follows the mouse anywhere.
    A left press and release that never moved CLICK_SLOP away is also a click (a drag that
    ends where it began is no click); two clicks within
    DOUBLE_CLICK_SECONDS and CLICK_SLOP of each other make a double click.

    Shortcut keys pressed outside text fields are kept until `dispatch`, which the app calls
    once the UI of the frame has been drawn: a click that lands in a text field in the same batch
    of events then turns them into typing, as ImGui does with their characters.

    The app reads input with `poll`, between frames. Callbacks run when the app reads an event,
    which after a slow frame is long after it came: the frame a click starts (a pick is a whole
    contributions pass) can outlast DOUBLE_CLICK_SECONDS on a slow GPU, and the second click of
    a double click would then be read too late to count. So an event that queued up while the
    app was drawing is dated to when the app stopped reading input, the earliest it can have
    come (GLFW gives no event times); only events read while waiting are dated as they come.
    """

    _queued_since: float | None = None  # set while `poll` reads events that queued up
    _stopped_reading = 0.0  # when the last `poll` returned
    _events = 0  # events read, to know whether `poll` need wait for more

    def __init__(self, window, gui: GlfwRenderer, handler: InputHandler) -> None:
        self.window = window
        self.gui = gui
        self.handler = handler
        self._drag_button: str | None = None
        self._cursor = glfw.get_cursor_pos(window)
        self._press: tuple[float, float] | None = None  # where the left button went down
        self._last_click: tuple[float, float, float] | None = None  # x, y, time
        self._held = [(shortcut.action, _key_codes(shortcut.keys)) for shortcut in HELD]
        self._pressed = self._shortcut_table()
        self._pending: list[tuple[str, bool]] = []  # shortcuts to perform: (action, again)
        self._last_press: tuple[str, float] | None = None  # the last shortcut and when it came
        self._stopped_reading = glfw.get_time()
        glfw.set_key_callback(window, self._on_key)
        glfw.set_char_callback(window, self._on_char)
        glfw.set_cursor_pos_callback(window, self._on_cursor)
        glfw.set_mouse_button_callback(window, self._on_button)
        glfw.set_scroll_callback(window, self._on_scroll)
        # pyGLFW calls it with a list of paths; its stub says (count, path)
        glfw.set_drop_callback(window, cast(Any, self._on_drop))
        # not input, but a reason to draw a frame now rather than wait on (resizes: `count_event`)
        glfw.set_window_refresh_callback(window, self.count_event)
        glfw.set_window_close_callback(window, self.count_event)

    @staticmethod
    def _shortcut_table() -> dict[tuple[int, int], str]:
        """(GLFW key code, modifier bits) -> the PRESSED action."""
        return {(code, _mod_bits(s.mods)): s.action for s in PRESSED for code in _key_codes(s.keys)}

    def poll(self, wait: float = 0.0) -> None:
        """Read the events that came since the last call.

        When there were none and `wait` > 0, sleep until one comes, for at most `wait` seconds.
        """
        self._events = 0
        self._queued_since = self._stopped_reading
        try:
            glfw.poll_events()
        finally:
            self._queued_since = None
        if wait > 0 and not self._events:
            glfw.wait_events_timeout(wait)
        self._stopped_reading = glfw.get_time()

    def dispatch(self) -> None:
        """Perform the shortcuts pressed since the last call, unless a text field is now edited.

        Called after the frame's UI is drawn (so a click into a text field has taken effect).
        """
        pending, self._pending = self._pending, []
        if text_field_active():
            return
        for action, again in pending:
            self.handler.perform(action, again)

    def held(self) -> frozenset[str]:
        """The HELD actions whose keys are down now (none while a text field is being edited)."""
        if text_field_active():
            return frozenset()
        return frozenset(
            action
            for action, codes in self._held
            if any(glfw.get_key(self.window, code) == glfw.PRESS for code in codes)
        )

    def count_event(self, *_args: object) -> None:
        """Count an event that is no input: `poll` then does not wait.

        A refresh or a close (GLFW callbacks), or a resize the window handled itself.
        """
        self._events += 1

    def _on_char(self, window, char: int) -> None:
        self._events += 1
        self.gui.char_callback(window, char)

    def _on_key(self, window, key: int, scancode: int, action: int, mods: int) -> None:
        self._events += 1
        shortcut = self._pressed.get((key, mods & SHORTCUT_MODS))
        editing = text_field_active()
        if shortcut is None or editing or action == glfw.RELEASE:
            self.gui.keyboard_callback(window, key, scancode, action, mods)
        if shortcut is None or editing or action != glfw.PRESS:
            return
        came = self._event_time()
        last = self._last_press
        again = last is not None and last[0] == shortcut and came - last[1] < DOUBLE_PRESS_SECONDS
        self._last_press = (shortcut, came)
        self._pending.append((shortcut, again))

    def _event_time(self) -> float:
        """When the event being read came, at the earliest (see the class docstring)."""
        return glfw.get_time() if self._queued_since is None else self._queued_since

    def _on_cursor(self, window, x: float, y: float) -> None:
        # fed directly: the backend's own callback ignores windows without focus (e.g. under Xvfb)
        self._events += 1
        imgui.get_io().add_mouse_pos_event(x, y)
        dx, dy = x - self._cursor[0], y - self._cursor[1]
        self._cursor = (x, y)
        if self._press is not None and not _near(self._press, self._cursor):
            self._press = None  # moved away: a drag, even if it comes back (no click)
        if self._drag_button is not None and (dx or dy):
            self.handler.drag(self._drag_button, dx, dy)

    def _on_button(self, window, button: int, action: int, mods: int) -> None:
        self._events += 1
        self.gui.mouse_button_callback(window, button, action, mods)
        name = _BUTTONS.get(button)
        if action == glfw.PRESS and name and not over_ui(*self._cursor):
            self._drag_button = name
            self._press = self._cursor if name == "left" else None
        elif action == glfw.RELEASE and name == self._drag_button:
            self._drag_button = None
            if name == "left" and self._press is not None:
                if _near(self._press, self._cursor):
                    self._clicked(*self._cursor)
                self._press = None

    def _clicked(self, x: float, y: float) -> None:
        now = glfw.get_time()
        came = self._event_time()
        last = self._last_click
        if last is not None and came - last[2] < DOUBLE_CLICK_SECONDS and _near(last[:2], (x, y)):
            self._last_click = None
            self.handler.double_click(x, y)
        else:
            self._last_click = (x, y, now)
            self.handler.click(x, y)

    def _on_scroll(self, window, x_offset: float, y_offset: float) -> None:
        self._events += 1
        self.gui.scroll_callback(window, x_offset, y_offset)
        if y_offset and not over_ui(*self._cursor):
            self.handler.scroll(y_offset)

    def _on_drop(self, window, paths: list[str]) -> None:
        self._events += 1
        self.handler.drop(list(paths))


def _near(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return math.hypot(a[0] - b[0], a[1] - b[1]) < CLICK_SLOP
