"""The settings panel: reads the viewer's settings and facts, returns new settings and actions.

Settings widgets come from the settings' own descriptions (`viewer.app.widgets`); the panel only
lays the sections out and adds buttons, which become `Action`s for the app to carry out.

Layout: the controls scroll in the panel's upper part; status (loading, scoring progress, the
last message and error) has a footer of fixed height below them, so status lines coming and
going never move a control under the pointer. The panel keeps inside the window: shrunk with
it, and back at a usable size when the window grows again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from imgui_bundle import imgui, implot

from viewer.app.commands import Command
from viewer.app.fovea_panel import FOVEA_ACTIONS, draw_fovea_section
from viewer.app.lod_panel import LOD_ACTIONS, draw_lod_section
from viewer.app.stream_panel import draw_stream_section
from viewer.app.widgets import edit_settings
from viewer.core.fovea_state import FoveaFacts
from viewer.core.inspection import CropBox, GaussianDetails, Histogram
from viewer.core.lod_state import LodFacts
from viewer.core.pruning_state import PruneFacts
from viewer.formats.inria_output import scene_name
from viewer.setting_specs import SettingsSet
from viewer.settings import (
    GROUPS,
    CameraOptions,
    CaptureOptions,
    FoveationSettings,
    LodSettings,
    PruneSettings,
    RasterSettings,
    StreamSettings,
)
from viewer.stats import FrameStats
from viewer.stream.scene_stream import StreamFacts

ERROR_COLOUR = imgui.ImVec4(1.0, 0.45, 0.4, 1.0)
PANEL_WIDTH = 380.0
MIN_PANEL_SIZE = (240.0, 200.0)  # smaller than this (window permitting) the panel is re-sized
MARGIN = 8.0
STATUS_LINES = 3  # the status footer's height, in lines of text
HISTOGRAM_HEIGHT = 110.0
OPEN_GROUPS = ("camera", "render", "raster", "display")  # sections open at the start


@dataclass(frozen=True)
class SceneFacts:
    """What the panel shows but does not edit.

    Attributes:
        source: where the scene came from. count: Gaussians. sh_degree: 0..3.
        bounds: ([3] lo, [3] hi) of the Gaussian centres.
        cameras: names of the scene's training cameras.
        gpu_bytes, host_bytes: memory held by the renderer, and by the scene's arrays with the
            renderer's host copies (the cpu backend's rows).
        device: the GL renderer string. backend, sort: raster backend (and why) and sort in use.
        latest: the newest frame's stats. fly_speed: world units per second.
        keyframes, path_seconds, playing: the camera path.
        loading: a path being loaded. message: the last status line. error: the last error.
        histograms: of opacity and scale.
        selected: the picked Gaussian, or None.
        heat_range: what the coldest and hottest colours mean in the heat modes (two labels).
        file_dialog: whether a system file dialog is available.
        pruning: what the pruning section shows.
        lod: what the level-of-detail section shows.
        fovea: what the foveation section shows.
        stream: what the streaming section shows (a streamed scene), or None.
    """

    source: str
    count: int
    sh_degree: int
    bounds: tuple[np.ndarray, np.ndarray]
    cameras: tuple[str, ...]
    gpu_bytes: int
    host_bytes: int
    device: str
    backend: str
    sort: str
    latest: FrameStats | None
    fly_speed: float
    keyframes: int
    path_seconds: float
    playing: bool
    loading: str
    message: str
    error: str
    histograms: tuple[Histogram, ...]
    selected: GaussianDetails | None = None
    heat_range: tuple[str, str] = ("", "")
    file_dialog: bool = False
    pruning: PruneFacts = field(default_factory=PruneFacts)
    lod: LodFacts = field(default_factory=LodFacts)
    fovea: FoveaFacts = field(default_factory=FoveaFacts)
    stream: StreamFacts | None = None


PANEL_ACTIONS = (
    Command.OPEN, Command.BROWSE, Command.GO_TO_CAMERA, Command.CLEAR_PATH, Command.SAVE_PATH,
    Command.LOAD_PATH, Command.CLEAR_SELECTION, Command.COMPARE_PRUNING, Command.SAVE_PRUNED,
    Command.SHOW_SCORE, Command.SAVE_CAMERA, *LOD_ACTIONS, *FOVEA_ACTIONS,
)  # fmt: skip


@dataclass(frozen=True)
class Action:
    """Something a button asked for: a shortcut's action or one of PANEL_ACTIONS.

    Attributes:
        name: the action. argument: its file path or camera index, if it takes one.
    """

    name: Command
    argument: Any = None


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.1f} MiB"


def _path_field(label: str, text: str) -> tuple[bool, str]:
    """A file name field; returns (Enter pressed in it, the text)."""
    return imgui.input_text(label, text, imgui.InputTextFlags_.enter_returns_true.value)


class Panel:
    """The main window of the UI; keeps only text fields and selections between frames."""

    def __init__(self) -> None:
        self.open_path = ""
        self.path_file = "camera_path.json"
        self.pruned_file = "pruned.ply"
        self.camera_file = "camera.json"
        self.camera_index = 0
        self.rect: tuple[float, float, float, float] | None = None  # x, y, w, h last drawn
        self._room_height = 0.0  # the window's height for the panel when it was last drawn

    def draw(
        self, settings: SettingsSet, crop: CropBox, facts: SceneFacts
    ) -> tuple[SettingsSet, CropBox, list[Action]]:
        """Draw the panel: a section per settings group (GROUPS, in order), then inspection.

        Returns:
            The settings and crop box as edited, and the actions asked for.
        """
        actions: list[Action] = []
        self._place()
        imgui.set_next_window_bg_alpha(0.85)
        imgui.begin("splatscope")
        pos, size = imgui.get_window_pos(), imgui.get_window_size()
        if not imgui.is_window_collapsed():
            self.rect = (pos.x, pos.y, size.x, size.y)
        style = imgui.get_style()
        footer = STATUS_LINES * imgui.get_text_line_height_with_spacing()
        footer += 2 * style.window_padding.y
        imgui.begin_child("controls", imgui.ImVec2(0.0, -(footer + style.item_spacing.y)))
        imgui.push_item_width(-150.0)
        self._scene(facts, actions)
        extras: dict[str, Callable[[Any, SceneFacts, list[Action]], None]] = {
            "camera": self._camera,
            "raster": self._raster,
            "capture": self._capture,
            "prune": self._prune,
            "lod": self._lod,
            "fov": self._fov,
            "stream": self._stream,
        }
        limits = {"sh_degree": (0, facts.sh_degree)}  # not more than the scene has
        for group in GROUPS:
            if not group.panel:
                continue
            enabled = group.name in ("lod", "fov") and settings[group.name].enabled
            streamed = group.name == "stream" and facts.stream is not None
            opened = group.name in OPEN_GROUPS or enabled or streamed
            flags = imgui.TreeNodeFlags_.default_open.value if opened else 0
            if not imgui.collapsing_header(group.title, flags):
                continue
            value = edit_settings(settings[group.name], limits)
            if group.name in extras:
                extras[group.name](value, facts, actions)
            settings = settings.replaced(value)
        crop = self._inspect(crop, facts, actions)
        imgui.pop_item_width()
        imgui.end_child()
        _status(facts, footer)
        imgui.end()
        return settings, crop, actions

    def _place(self) -> None:
        """Keep the panel inside the window.

        At most the window's size less the margins; back at a usable size (the default width,
        the window's height) once the window has room again after squeezing it; as tall as the
        window when it was as tall as the window before (it follows a resize); moved back into
        the window when it lies (partly) outside.
        """
        viewport = imgui.get_main_viewport()
        room = imgui.ImVec2(
            max(viewport.work_size.x - 2 * MARGIN, 1.0), max(viewport.work_size.y - 2 * MARGIN, 1.0)
        )
        least = imgui.ImVec2(min(MIN_PANEL_SIZE[0], room.x), min(MIN_PANEL_SIZE[1], room.y))
        origin = imgui.ImVec2(viewport.work_pos.x + MARGIN, viewport.work_pos.y + MARGIN)
        imgui.set_next_window_pos(origin, imgui.Cond_.first_use_ever)
        imgui.set_next_window_size(imgui.ImVec2(PANEL_WIDTH, room.y), imgui.Cond_.first_use_ever)
        if self.rect is not None:
            x, y, width, height = self.rect
            if width < least.x - 0.5 or height < least.y - 0.5:  # squeezed by a smaller window
                width, height = min(PANEL_WIDTH, room.x), room.y
                imgui.set_next_window_size(imgui.ImVec2(width, height), imgui.Cond_.always)
            elif abs(height - self._room_height) < 1.0 and room.y != self._room_height:
                height = room.y  # it filled the window's height: it follows it
                imgui.set_next_window_size(imgui.ImVec2(width, height), imgui.Cond_.always)
            width, height = min(width, room.x), min(height, room.y)
            # its title bar stays in view when even the smallest panel is larger than the room
            inside_x = max(min(x, origin.x + room.x - width), origin.x)
            inside_y = max(min(y, origin.y + room.y - height), origin.y)
            if (inside_x, inside_y) != (x, y):
                imgui.set_next_window_pos(imgui.ImVec2(inside_x, inside_y), imgui.Cond_.always)
        imgui.set_next_window_size_constraints(least, room)
        self._room_height = room.y

    def _scene(self, facts: SceneFacts, actions: list[Action]) -> None:
        imgui.text(f"Scene: {scene_name(facts.source)}")
        imgui.set_item_tooltip(facts.source)
        visible = f"{facts.latest.visible:,}" if facts.latest else "-"
        imgui.text(f"{facts.count:,} Gaussians, {visible} visible, SH degree {facts.sh_degree}")
        imgui.text(f"GL buffers {_mib(facts.gpu_bytes)}, host {_mib(facts.host_bytes)}")
        imgui.set_item_tooltip(
            "GL buffers: the renderer's, in GPU memory (in host memory on software GL such as "
            "llvmpipe); host: the scene's arrays and the cpu backend's copy of its rows"
        )
        imgui.text_disabled(facts.device)
        entered, self.open_path = _path_field("##open", self.open_path)
        imgui.set_item_tooltip("a scene file or training folder to open (Enter opens it)")
        imgui.same_line()
        if (imgui.button("Open") or entered) and self.open_path.strip():
            actions.append(Action(Command.OPEN, self.open_path.strip()))
        imgui.set_item_tooltip("open a scene file or training folder (or drop one on the window)")
        imgui.same_line()
        if imgui.button("Browse..."):
            actions.append(Action(Command.BROWSE))
        imgui.set_item_tooltip(
            "choose a scene in the system's file dialog"
            if facts.file_dialog
            else "choose a scene in a file browser (zenity or kdialog give the system's dialog)"
        )

    def _camera(self, options: CameraOptions, facts: SceneFacts, actions: list[Action]) -> None:
        imgui.text(f"fly speed {facts.fly_speed:.3g} units/s (scroll in fly mode)")
        for label, action in (("Frame scene", Command.FRAME), ("Reset view", Command.RESET)):
            if imgui.button(label):
                actions.append(Action(action))
            imgui.same_line()
        if imgui.button("Help (F1)"):
            actions.append(Action(Command.TOGGLE_HELP))
        entered, self.camera_file = _path_field("##camera file", self.camera_file)
        imgui.same_line()
        if (imgui.button("Save camera") or entered) and self.camera_file.strip():
            actions.append(Action(Command.SAVE_CAMERA, self.camera_file.strip()))
        imgui.set_item_tooltip(
            "write this view as a camera file: `splatscope render --camera FILE` renders it, "
            "`splatscope view --camera FILE` opens there"
        )
        if facts.cameras:
            self.camera_index = min(self.camera_index, len(facts.cameras) - 1)
            names = [name or f"camera {i}" for i, name in enumerate(facts.cameras)]
            changed, self.camera_index = imgui.combo("training camera", self.camera_index, names)
            imgui.set_item_tooltip("fly to one of the scene's cameras ([ and ] step through them)")
            if changed:
                actions.append(Action(Command.GO_TO_CAMERA, self.camera_index))

    def _raster(self, raster: RasterSettings, facts: SceneFacts, actions: list[Action]) -> None:
        imgui.push_style_color(
            imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled)
        )
        imgui.text_wrapped(f"in use: {facts.backend} raster, {facts.sort} sort")
        imgui.pop_style_color()

    def _capture(self, options: CaptureOptions, facts: SceneFacts, actions: list[Action]) -> None:
        if imgui.button("Screenshot (F12)"):
            actions.append(Action(Command.SCREENSHOT))
        imgui.text(f"path: {facts.keyframes} keyframes, {facts.path_seconds:.1f} s")
        buttons = (
            ("Add keyframe (K)", Command.ADD_KEYFRAME),
            ("Stop" if facts.playing else "Play (Space)", Command.PLAY_PATH),
            ("Clear", Command.CLEAR_PATH),
        )
        for i, (label, action) in enumerate(buttons):
            if i:
                imgui.same_line()
            if imgui.button(label):
                actions.append(Action(action))
        entered, self.path_file = _path_field("path file", self.path_file)
        imgui.set_item_tooltip("Enter saves the keyframes there (loads the file if there are none)")
        if entered and self.path_file.strip():
            action = Command.SAVE_PATH if facts.keyframes else Command.LOAD_PATH
            actions.append(Action(action, self.path_file.strip()))
        for i, (label, action) in enumerate(
            (("Save path", Command.SAVE_PATH), ("Load path", Command.LOAD_PATH))
        ):
            if i:
                imgui.same_line()
            if imgui.button(label) and self.path_file.strip():
                actions.append(Action(action, self.path_file.strip()))

    def _lod(self, lod: LodSettings, facts: SceneFacts, actions: list[Action]) -> None:
        if facts.stream is not None:
            imgui.text_disabled("off for a streamed scene: its chunks are its levels (Streaming)")
            return
        actions.extend(Action(name) for name in draw_lod_section(lod, facts.lod, facts.count))

    def _fov(self, fov: FoveationSettings, facts: SceneFacts, actions: list[Action]) -> None:
        actions.extend(Action(*asked) for asked in draw_fovea_section(fov, facts.fovea))

    def _stream(self, _: StreamSettings, facts: SceneFacts, actions: list[Action]) -> None:
        draw_stream_section(facts.stream)

    def _prune(self, prune: PruneSettings, facts: SceneFacts, actions: list[Action]) -> None:
        if facts.stream is not None:
            imgui.text_disabled("off for a streamed scene: its resident Gaussians change")
            return
        shown = facts.pruning  # one line each, always there: nothing below moves
        if shown.scoring is not None:
            done, total = shown.scoring
            line = imgui.ImVec2(-1.0, imgui.get_text_line_height())  # as high as the text
            imgui.progress_bar(done / max(total, 1), line, f"scoring views {done}/{total}")
        elif shown.score_range is not None:
            lo, hi = shown.score_range
            imgui.text_disabled(f"{prune.score} scores span {lo:.4g} .. {hi:.4g}")
        else:
            imgui.text_disabled(f"{prune.score} scores: measured when pruning or shown")
        if shown.kept is not None:
            share = 100.0 * shown.kept / max(facts.count, 1)
            imgui.text(f"kept {shown.kept:,} ({share:.1f} %), pruned {facts.count - shown.kept:,}")
        else:
            imgui.text(f"kept all {facts.count:,}")
        if imgui.button("Compare"):
            actions.append(Action(Command.COMPARE_PRUNING))
        imgui.set_item_tooltip("PSNR / SSIM of this view pruned against it unpruned")
        imgui.same_line()
        if imgui.button("Show scores"):
            actions.append(Action(Command.SHOW_SCORE))
        imgui.set_item_tooltip("heatmap render mode of the chosen score")
        if shown.quality is not None:
            imgui.text(f"vs unpruned: PSNR {shown.quality[0]:.2f} dB, SSIM {shown.quality[1]:.4f}")
        else:
            imgui.text_disabled("vs unpruned: - (Compare)")
        entered, self.pruned_file = _path_field("##pruned file", self.pruned_file)
        imgui.same_line()
        if (imgui.button("Save pruned") or entered) and self.pruned_file.strip():
            actions.append(Action(Command.SAVE_PRUNED, self.pruned_file.strip()))
        imgui.set_item_tooltip("write the kept Gaussians (.ply or .splat by the name)")

    def _inspect(self, crop: CropBox, facts: SceneFacts, actions: list[Action]) -> CropBox:
        if not imgui.collapsing_header("Inspect"):
            return crop
        _selected(facts.selected, actions)
        _, enabled = imgui.checkbox("crop box", crop.enabled)
        imgui.set_item_tooltip("hide the Gaussians whose centre lies outside the box")
        lo, hi = list(crop.lo), list(crop.hi)
        scene_lo, scene_hi = facts.bounds
        for axis, name in enumerate("xyz"):
            span = float(scene_hi[axis] - scene_lo[axis]) or 1.0
            _, lo[axis], hi[axis] = imgui.drag_float_range2(
                name, lo[axis], hi[axis], span / 500.0, float(scene_lo[axis]), float(scene_hi[axis])
            )
        edited = CropBox(enabled, (lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]))
        for hist in facts.histograms:
            _plot_histogram(hist)
        return edited if edited != crop else crop


def _status(facts: SceneFacts, height: float) -> None:
    """The status footer: the colour scale's legend, progress, the last error and message.

    A child window of fixed height (scrolling when the lines do not fit), drawn whether or not
    there is anything to say.
    """
    imgui.begin_child("status", imgui.ImVec2(0.0, height), imgui.ChildFlags_.borders.value)
    low, high = facts.heat_range  # here, not among the controls: it would move them when shown
    if low or high:
        _heat_legend(low, high)
    if facts.loading:
        # an indeterminate bar: a negative fraction makes ImGui animate it
        name = Path(facts.loading).name or facts.loading
        imgui.progress_bar(-imgui.get_time(), imgui.ImVec2(-1.0, 0.0), f"loading {name}")
        imgui.set_item_tooltip(facts.loading)
    scoring = facts.pruning.scoring
    if scoring is not None:
        done, total = scoring
        imgui.progress_bar(done / max(total, 1), imgui.ImVec2(-1.0, 0.0),
                           f"measuring pruning scores: view {done} of {total}")  # fmt: skip
    if facts.error:
        imgui.push_text_wrap_pos(0.0)
        imgui.text_colored(ERROR_COLOUR, facts.error)
        imgui.pop_text_wrap_pos()
    if facts.message:
        imgui.text_wrapped(facts.message)
    if not (facts.loading or scoring or facts.error or facts.message or low or high):
        imgui.text_disabled("F1: every shortcut")
    imgui.end_child()


def _selected(details: GaussianDetails | None, actions: list[Action]) -> None:
    """The picked Gaussian's parameters, or how to pick one."""
    if details is None:
        imgui.text_disabled("click the view to pick the Gaussian that adds most to a pixel")
        return
    imgui.text(f"Gaussian {details.index:,} (alpha*T {details.weight:.3f} at the pixel)")
    rows = (
        ("position", details.position),
        ("scale", details.scale),
        ("rotation wxyz", details.rotation),
        ("DC colour", details.colour),
    )
    for label, values in rows:
        imgui.text(f"  {label:<14}" + "  ".join(f"{v: .4g}" for v in values))
    imgui.text(f"  {'opacity':<14} {details.opacity:.4g}")
    if imgui.button("Clear selection"):
        actions.append(Action(Command.CLEAR_SELECTION))


def _heat_legend(low: str, high: str) -> None:
    """The heat colour scale as a bar, with what its two ends mean."""
    from viewer.render.colormap import HEAT_COLOURS

    draw = imgui.get_window_draw_list()
    origin = imgui.get_cursor_screen_pos()
    width, height = imgui.get_content_region_avail().x, imgui.get_text_line_height()
    step = width / (len(HEAT_COLOURS) - 1)
    for i in range(len(HEAT_COLOURS) - 1):
        left, right = (imgui.color_convert_float4_to_u32(imgui.ImVec4(c[0], c[1], c[2], 1.0))
                       for c in HEAT_COLOURS[i : i + 2])  # fmt: skip
        x0 = origin.x + i * step
        draw.add_rect_filled_multi_color(
            imgui.ImVec2(x0, origin.y), imgui.ImVec2(x0 + step + 1.0, origin.y + height),
            left, right, right, left,
        )  # fmt: skip
    imgui.dummy(imgui.ImVec2(width, height))
    imgui.text(low)
    imgui.same_line(max(width - imgui.calc_text_size(high).x, 0.0))
    imgui.text(high)


def _plot_histogram(hist: Histogram) -> None:
    if implot.begin_plot(hist.label, imgui.ImVec2(-1.0, HISTOGRAM_HEIGHT)):
        flags = implot.AxisFlags_.auto_fit.value
        implot.setup_axes("", "", flags, flags)
        implot.plot_bars("##bars", hist.centers, hist.counts, hist.width)
        implot.end_plot()
