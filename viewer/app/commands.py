"""Every command a shortcut or a panel button can ask the viewer for, by one typed name."""

from __future__ import annotations

from enum import Enum


class Command(str, Enum):
    """A viewer command; `ViewerApp.perform` runs it (some take an argument: a path or index)."""

    TOGGLE_HELP = "toggle_help"
    TOGGLE_OVERLAY = "toggle_overlay"
    TOGGLE_PANEL = "toggle_panel"
    TOGGLE_VSYNC = "toggle_vsync"
    TOGGLE_MODE = "toggle_mode"
    NEXT_RENDER_MODE = "next_render_mode"
    COMPARE_PRUNING = "compare_pruning"
    COMPARE_LOD = "compare_lod"
    COMPARE_FOVEA = "compare_fovea"
    APPLY_PRESET = "apply_preset"
    SHOW_LOD_LEVELS = "show_lod_levels"
    SAVE_PRUNED = "save_pruned"
    SHOW_SCORE = "show_score"
    CLEAR_SELECTION = "clear_selection"
    BROWSE = "browse"
    FRAME = "frame"
    RESET = "reset"
    PREVIOUS_CAMERA = "previous_camera"
    NEXT_CAMERA = "next_camera"
    GO_TO_CAMERA = "go_to_camera"
    FOV_NARROWER = "fov_narrower"
    FOV_WIDER = "fov_wider"
    SCREENSHOT = "screenshot"
    ADD_KEYFRAME = "add_keyframe"
    PLAY_PATH = "play_path"
    CLEAR_PATH = "clear_path"
    SAVE_PATH = "save_path"
    LOAD_PATH = "load_path"
    OPEN = "open"
    SAVE_CAMERA = "save_camera"
    ESCAPE = "escape"
    QUIT = "quit"
