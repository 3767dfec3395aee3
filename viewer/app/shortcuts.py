"""Every keyboard shortcut and mouse gesture, described once for input handling and the help.

Keys are GLFW key names without the `KEY_` prefix ("F12", "LEFT_BRACKET").
"""

from __future__ import annotations

from dataclasses import dataclass

from viewer.app.commands import Command


@dataclass(frozen=True)
class Shortcut:
    """Keys that trigger one action (on press), or hold one (while down).

    Attributes:
        keys: GLFW key names, any of which does it.
        action: the action's name.
        help: what it does, for the help window.
        mods: modifiers held with the key (GLFW MOD_ names: "CONTROL"); a shortcut without
            them does not fire while Ctrl, Alt or Super is held.
    """

    keys: tuple[str, ...]
    action: str  # a Command for PRESSED shortcuts, a movement for HELD ones
    help: str
    mods: tuple[str, ...] = ()


PRESSED = (
    Shortcut(("F1",), Command.TOGGLE_HELP, "show / hide this help"),
    Shortcut(("T",), Command.TOGGLE_OVERLAY, "show / hide the timing overlay"),
    Shortcut(("U",), Command.TOGGLE_PANEL, "show / hide the settings panel"),
    Shortcut(("TAB",), Command.TOGGLE_MODE, "switch between orbit and fly mode"),
    Shortcut(("M",), Command.NEXT_RENDER_MODE, "next render mode (colour, depth, heatmap, ...)"),
    Shortcut(("F",), Command.FRAME, "frame the whole scene"),
    Shortcut(("R", "HOME"), Command.RESET, "reset the view"),
    Shortcut(("LEFT_BRACKET",), Command.PREVIOUS_CAMERA, "go to the previous training camera"),
    Shortcut(("RIGHT_BRACKET",), Command.NEXT_CAMERA, "go to the next training camera"),
    Shortcut(("MINUS",), Command.FOV_NARROWER, "narrower field of view (5 degrees)"),
    Shortcut(("EQUAL",), Command.FOV_WIDER, "wider field of view (5 degrees)"),
    Shortcut(("F12", "P"), Command.SCREENSHOT, "save a screenshot (PNG, without the UI)"),
    Shortcut(("K",), Command.ADD_KEYFRAME, "add the view as a camera path keyframe"),
    Shortcut(("SPACE",), Command.PLAY_PATH, "play / stop the camera path"),
    Shortcut(("V",), Command.TOGGLE_VSYNC, "vsync on / off"),
    Shortcut(
        ("ESCAPE",),
        Command.ESCAPE,
        "close this help / leave fly mode / clear the selection; with none of them, Esc twice "
        "within a second quits",
    ),
    Shortcut(("Q",), Command.QUIT, "quit (or close the window)", ("CONTROL",)),
)

HELD = (
    Shortcut(("W", "UP"), "forward", "move forward"),
    Shortcut(("S", "DOWN"), "back", "move back"),
    Shortcut(("A", "LEFT"), "left", "move left"),
    Shortcut(("D", "RIGHT"), "right", "move right"),
    Shortcut(("E",), "up", "move up (world up)"),
    Shortcut(("Q",), "down", "move down"),
    Shortcut(("Z",), "roll_left", "roll left"),
    Shortcut(("X",), "roll_right", "roll right"),
    Shortcut(("LEFT_SHIFT", "RIGHT_SHIFT"), "fast", "hold to move 4x faster"),
)

MOUSE = (
    ("left drag", "orbit around the pivot (orbit mode) / look around (fly mode)"),
    ("click", "pick the Gaussian adding most to that pixel (highlighted, details in Inspect)"),
    ("double click", "orbit the surface point under the cursor"),
    ("right or middle drag", "pan"),
    ("scroll", "zoom (orbit mode) / flying speed (fly mode)"),
    ("drop a file on the window", "open that scene"),
)

_LABELS = {
    "LEFT_BRACKET": "[",
    "RIGHT_BRACKET": "]",
    "MINUS": "-",
    "EQUAL": "=",
    "ESCAPE": "Esc",
    "LEFT_SHIFT": "Shift",
    "RIGHT_SHIFT": "",
    "UP": "Up",
    "DOWN": "Down",
    "LEFT": "Left",
    "RIGHT": "Right",
}


def key_label(key: str) -> str:
    """How a key is written in the help ("[" for LEFT_BRACKET, "Tab" for TAB)."""
    return _LABELS.get(key, key if len(key) == 1 or key[0] == "F" else key.title())


_MOD_LABELS = {"CONTROL": "Ctrl", "ALT": "Alt", "SUPER": "Super", "SHIFT": "Shift"}


def shortcut_label(shortcut: Shortcut) -> str:
    """How a shortcut's keys are written in the help ("R / Home", "Ctrl+Q")."""
    prefix = "".join(f"{_MOD_LABELS[mod]}+" for mod in shortcut.mods)
    labels = [key_label(key) for key in shortcut.keys]
    return " / ".join(prefix + label for label in labels if label)


def help_rows() -> list[tuple[str, str]]:
    """(keys or gesture, what it does) for every shortcut and gesture, for the help window."""
    rows = [(shortcut_label(shortcut), shortcut.help) for shortcut in (*PRESSED, *HELD)]
    return rows + list(MOUSE)
