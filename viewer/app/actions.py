"""What the window's commands do: shortcuts, panel buttons and Esc, one handler per `Command`.

`ViewerApp.perform` hands each command here. A handler changes the settings through the app
(`ViewerApp.apply`), asks the viewer session for comparisons, moves the camera controller or
the path player, and leaves a one-line message (or error) for the panel's status line.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.app.capture import save_screenshot, screenshot_path, screenshot_size
from viewer.app.commands import Command
from viewer.app.fovea_panel import psnr_text
from viewer.errors import SceneError
from viewer.features.presets import with_preset
from viewer.formats.camera_files import save_camera_file
from viewer.pose import Pose
from viewer.render.frame_inputs import FrameInputs
from viewer.settings import (
    GROUPS,
    RENDER_MODES,
    CaptureOptions,
    DisplayOptions,
    PruneSettings,
    RenderSettings,
)

if TYPE_CHECKING:  # the app makes its actions
    from viewer.app.app import ViewerApp

FOV_STEP_DEGREES = 5.0


def showing_lod_levels(render: RenderSettings) -> bool:
    """Whether `render` draws the LOD level heat map."""
    return render.mode == "heatmap" and render.heatmap == "lod_level"


class AppActions:
    """The handlers of every `Command` for one app."""

    def __init__(self, app: ViewerApp) -> None:
        self.app = app
        self._quit_armed = False  # the last Esc asked for a second one to quit

    def perform(self, action: Command | str, argument: Any = None) -> None:
        """Run `action` (`argument`: a panel action's path or index, Esc's "pressed again").

        Raises:
            ValueError: for a name that is no Command.
        """
        self._handlers(argument)[Command(action)]()

    def _handlers(self, argument: Any) -> dict[Command, Callable[[], None]]:
        app = self.app
        controller = app.controller
        return {
            Command.TOGGLE_HELP: lambda: self._toggle("help"),
            Command.TOGGLE_OVERLAY: lambda: self._toggle("overlay"),
            Command.TOGGLE_PANEL: lambda: self._toggle("panel"),
            Command.TOGGLE_VSYNC: lambda: self._toggle("vsync"),
            Command.TOGGLE_MODE: lambda: controller.set_mode(
                "fly" if controller.mode == "orbit" else "orbit"
            ),
            Command.NEXT_RENDER_MODE: self._next_render_mode,
            Command.COMPARE_PRUNING: self._compare_pruning,
            Command.COMPARE_LOD: self._compare_lod,
            Command.COMPARE_FOVEA: self._compare_fovea,
            Command.APPLY_PRESET: lambda: self._apply_preset(argument),
            Command.SHOW_LOD_LEVELS: self._toggle_lod_levels,
            Command.SAVE_PRUNED: lambda: self._save_pruned(argument),
            Command.SHOW_SCORE: lambda: self._change(
                "render", mode="heatmap", heatmap=app.settings.of(PruneSettings).score
            ),
            Command.CLEAR_SELECTION: lambda: app.session.select(None),
            Command.BROWSE: lambda: app.chooser.show(Path(app.session.host.source).parent),
            Command.FRAME: controller.frame,
            Command.RESET: controller.reset,
            Command.PREVIOUS_CAMERA: lambda: self._step_camera(-1),
            Command.NEXT_CAMERA: lambda: self._step_camera(1),
            Command.GO_TO_CAMERA: lambda: self._go_to_camera(argument),
            Command.FOV_NARROWER: lambda: controller.set_fov(
                controller.fov_y_degrees - FOV_STEP_DEGREES
            ),
            Command.FOV_WIDER: lambda: controller.set_fov(
                controller.fov_y_degrees + FOV_STEP_DEGREES
            ),
            Command.SCREENSHOT: self._screenshot,
            Command.ADD_KEYFRAME: self._add_keyframe,
            Command.PLAY_PATH: self._toggle_playback,
            Command.CLEAR_PATH: app.player.clear,
            Command.SAVE_PATH: lambda: self._path_file(argument, app.player.save),
            Command.LOAD_PATH: lambda: self._path_file(argument, app.player.load),
            Command.OPEN: lambda: app.open(argument),
            Command.SAVE_CAMERA: lambda: self._save_camera(argument),
            Command.ESCAPE: lambda: self._escape(again=bool(argument)),
            Command.QUIT: app.window.close,
        }

    # -- display and settings -------------------------------------------------------------------

    def _change(self, group: str, **changes: Any) -> None:
        """Apply new values of some fields of one settings group ("render", "display", ...)."""
        self.app.apply(self.app.settings.changed(group, **changes))

    def _toggle(self, field: str) -> None:
        display = self.app.settings.of(DisplayOptions)
        self._change("display", **{field: not getattr(display, field)})

    def _next_render_mode(self) -> None:
        mode = self.app.settings.of(RenderSettings).mode
        mode = RENDER_MODES[(RENDER_MODES.index(mode) + 1) % len(RENDER_MODES)]
        self._change("render", mode=mode)
        self.app.message = f"render mode: {mode}"

    def _apply_preset(self, name: str) -> None:
        """Set the keys of preset `name` (viewer/features/presets.py)."""
        panel_groups = [group for group in GROUPS if group.panel]
        self.app.apply(with_preset(self.app.settings, name, panel_groups))
        self.app.message = f"preset {name}: LOD, foveation and pruning set"

    def _toggle_lod_levels(self) -> None:
        """The level heat map on, or back to colour when it is shown."""
        if showing_lod_levels(self.app.settings.of(RenderSettings)):
            self._change("render", mode="colour")
        else:
            self._change("render", mode="heatmap", heatmap="lod_level")

    def _escape(self, again: bool) -> None:
        """What Esc does: undo the first of help shown, fly mode, a selection, path playback.

        With none of these, a first Esc asks for a second (`again`: pressed again within
        `input.DOUBLE_PRESS_SECONDS`), which quits.
        """
        app = self.app
        armed, self._quit_armed = self._quit_armed, False
        if app.settings.of(DisplayOptions).help:
            self._toggle("help")
        elif app.controller.mode == "fly":
            app.controller.set_mode("orbit")
            app.message = "orbit mode (Tab: fly mode)"
        elif app.session.selected is not None:
            app.session.select(None)
            app.message = "selection cleared"
        elif app.player.playing:
            self._toggle_playback()
        elif again and armed:
            app.window.close()
        else:
            self._quit_armed = True
            app.message = "press Esc again to quit"

    # -- comparisons and exports ----------------------------------------------------------------

    def _compare_fovea(self) -> None:
        app = self.app
        quality = app.session.compare_fovea(app.camera(), app.settings, app.ctx.finish)
        app.message = (
            f"fovea PSNR {psnr_text(quality.fovea[0]).strip()}, "
            f"periphery {psnr_text(quality.periphery[0]).strip()}, "
            f"frame time x{quality.time_ratio:.2f} of the full render"
        )

    def _compare_lod(self) -> None:
        psnr, ssim = self.app.session.compare_lod(self.app.camera(), self.app.settings)
        self.app.message = f"PSNR {psnr:.2f} dB, SSIM {ssim:.4f} against the full render"

    def _compare_pruning(self) -> None:
        app = self.app
        render = app.settings.of(RenderSettings)
        psnr, ssim = app.session.compare_pruning(app.camera(), render)
        app.message = f"PSNR {psnr:.2f} dB, SSIM {ssim:.4f} against the unpruned view"

    def _save_pruned(self, file: str) -> None:
        app = self.app
        try:
            kept = app.session.save_pruned(app.settings.of(PruneSettings), file)
        except SceneError as exc:
            app.error = str(exc)
            return
        app.message = f"wrote {kept:,} Gaussians to {file}"

    def _screenshot(self) -> None:
        app = self.app
        capture = app.settings.of(CaptureOptions)
        width, height = screenshot_size(app.window.framebuffer_size, capture.width, capture.height)
        path = screenshot_path(Path.cwd(), datetime.datetime.now())
        try:
            inputs = FrameInputs(app.camera(width, height))
            render = app.settings.of(RenderSettings)
            save_screenshot(app.renderer, app.gpu_scene, inputs, render, path)
        except OSError as exc:
            app.error = f"could not save the screenshot: {exc}"
            return
        finally:
            app.renderer.fit_view(*app.window.framebuffer_size)  # a big capture's memory
        app.message = f"saved {width}x{height} screenshot {path}"
        print(f"splatscope: {app.message}", flush=True)

    def _save_camera(self, file: str) -> None:
        """Write the current view as a camera file (`render --camera`, `view --camera` read it)."""
        app = self.app
        width, height = app.window.framebuffer_size
        try:
            save_camera_file(file, app.camera(width, height))
        except OSError as exc:
            app.error = f"could not save {file}: {exc}"
            return
        app.message = f"saved the {width}x{height} view to {file}"

    # -- cameras and paths ----------------------------------------------------------------------

    def _step_camera(self, step: int) -> None:
        cameras = self.app.scene.cameras
        if cameras:
            self._go_to_camera((self.app.camera_index + step) % len(cameras))
        else:
            self.app.message = "this scene has no training cameras"

    def _go_to_camera(self, index: int) -> None:
        app = self.app
        app.camera_index = app.panel.camera_index = index
        camera = app.scene.cameras[index]
        app.controller.go_to(camera)
        app.message = f"camera {index}: {camera.name}" if camera.name else f"camera {index}"

    def _add_keyframe(self) -> None:
        app = self.app
        width, height = app.window.framebuffer_size
        step = app.settings.of(CaptureOptions).keyframe_step
        app.message = app.player.add(app.camera(width, height), step)

    def _toggle_playback(self) -> None:
        """Play the camera path, or stop where it is."""
        app = self.app
        if app.player.playing:
            app.controller.set_pose(Pose.of(app.camera()), app.controller.distance)
            app.player.time = None
        else:
            app.message = app.player.play()

    def _path_file(self, file: str, how: Callable[[str], str]) -> None:
        """Save or load the path file `file` (`how`: the player's save or load)."""
        try:
            self.app.message = how(file)
        except (OSError, SceneError) as exc:
            self.app.error = f"could not use {file}: {exc}"
