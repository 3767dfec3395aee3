"""The viewer application: one window, one scene on the GPU, a camera, the panel and overlays.

Each frame: input -> camera update -> UI (panel returns new settings and actions) -> apply ->
splats rendered into the cached view if anything they depend on changed (on a slow device a
part of that frame, paced to keep the UI's rate) -> the last finished view copied to the
window -> UI drawn over it -> swap.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from pathlib import Path

import glfw
import moderngl
import OpenGL.GL as gl
from imgui_bundle import imgui, implot
from imgui_bundle.python_backends.glfw_backend import GlfwRenderer

from viewer.app import file_dialog
from viewer.app.camera_controller import CameraController
from viewer.app.capture import save_screenshot, screenshot_path, screenshot_size
from viewer.app.commands import Command
from viewer.app.context_overlay import SceneFrame, draw_context, pick_camera
from viewer.app.file_browser import FileBrowser
from viewer.app.fovea_panel import draw_outlines, psnr_text
from viewer.app.frame_pacer import FramePacer
from viewer.app.help_window import draw_help
from viewer.app.input import InputRouter
from viewer.app.overlay import append_overlay_lines, draw_overlay
from viewer.app.panel import Action, Panel, SceneFacts
from viewer.app.path_player import PathPlayer
from viewer.app.scene_loader import SceneLoader
from viewer.app.view_target import ViewTarget
from viewer.app.window import Window
from viewer.camera import Camera
from viewer.core.inspection import CropBox, window_to_pixel
from viewer.core.session import ViewerSession
from viewer.errors import SceneError
from viewer.features.presets import with_preset
from viewer.formats.camera_files import save_camera_file
from viewer.formats.inria_output import scene_name
from viewer.framing import default_camera, framing_bounds, resolve_up
from viewer.pose import Pose
from viewer.render.context import REQUIRED_GL
from viewer.render.fovea import gaze_pixel
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import (
    GROUPS,
    RENDER_MODES,
    CameraOptions,
    CaptureOptions,
    DisplayOptions,
    FoveationSettings,
    PruneSettings,
    RasterSettings,
    RenderSettings,
)
from viewer.stats import StatsHistory

IDLE_WAIT_SECONDS = 0.1  # longest wait for input while nothing moves
FOV_STEP_DEGREES = 5.0
IMAGE_GROUPS = ("render", "raster", "prune", "lod", "fov")  # settings that change the image


def _create_gui(window: Window) -> GlfwRenderer:
    """ImGui and ImPlot contexts and the OpenGL backend for `window` (no imgui.ini files)."""
    imgui.create_context()
    implot.create_context()
    imgui.get_io().set_ini_filename(None)
    style = imgui.get_style()
    scale = window.content_scale
    style.scale_all_sizes(scale)
    style.font_scale_dpi = scale
    return GlfwRenderer(window.handle, attach_callbacks=False)


def _restore_gl_state() -> None:
    """Undo what the UI backend leaves enabled that the splat passes do not set themselves."""
    gl.glDisable(gl.GL_SCISSOR_TEST)
    gl.glDisable(gl.GL_BLEND)


class ViewerApp:
    """The viewer; `run` loops until the window closes."""

    def __init__(
        self,
        window: Window,
        scene: GaussianScene,
        read_scene,
        settings: SettingsSet,
        *,
        camera: Camera | None = None,
        up: str = "auto",
    ) -> None:
        """Set up GL, renderer and UI on `window` and show `scene`.

        Args:
            window: the window to draw in; its OpenGL context is current on this thread.
            scene: the scene shown first.
            read_scene: path -> GaussianScene, for files opened or dropped later.
            settings: the initial settings of every group (render, raster, pruning, ...).
            camera: the view to open `scene` at and return to on reset (default: the scene's
                default view, viewer.framing.default_camera).
            up: world up axis of every scene shown, a viewer.framing.UP_CHOICES value ("auto":
                guessed per scene).
        """
        self.window = window
        self.start_camera = camera
        self.up_choice = up
        self.ctx = moderngl.create_context(require=REQUIRED_GL)
        self.renderer = SplatRenderer(self.ctx, settings.of(RasterSettings))
        self.target = ViewTarget(self.ctx)
        self.pacer = FramePacer()  # slow splat frames are drawn over several UI frames
        self.gui = _create_gui(window)
        self.input = InputRouter(window.handle, self.gui, self)
        self.panel = Panel()
        self.loader = SceneLoader(read_scene)
        self.dialog = file_dialog.FileDialog()
        self.browser = FileBrowser()  # where no system dialog is
        self.has_dialog = file_dialog.available()
        self.history = StatsHistory()
        self._settings = settings  # its camera group: see `settings`
        self.player = PathPlayer()
        self.message = self.error = ""
        self._quit_armed = False  # the last Esc asked for a second one to quit
        self.session: ViewerSession | None = None  # until the first scene is up
        self._pick: tuple[str, float, float] | None = None  # ("select" or "pivot", x, y)
        self._clock = glfw.get_time()
        self._use_scene(scene)

    # -- scene ----------------------------------------------------------------------------------

    def _use_scene(
        self, scene: GaussianScene, gpu_scene: GpuScene | None = None, keep_view: bool = False
    ) -> None:
        """Show `scene` (a new session for it) and reset camera, statistics and histograms.

        The old scene is freed once the new one is up.

        Args:
            scene: the scene shown from now on.
            gpu_scene: a GPU scene already holding `scene` (a live training's), used as it is.
            keep_view: keep the camera and crop box (the same scene, changed: live training).
        """
        old = self.session
        self.session = ViewerSession(self.renderer, scene, gpu_scene)
        if old is not None:
            if keep_view:
                self.session.set_crop(old.crop)
            if old.gpu_scene is not self.session.gpu_scene:
                old.release()
        if not keep_view:
            width, height = self.window.framebuffer_size
            lo, hi = framing_bounds(scene)
            home = self.start_camera or default_camera(
                scene, max(width, 1), max(height, 1), self.up_choice
            )
            self.start_camera = None  # scenes opened later start at their own default view
            up = resolve_up(scene, self.up_choice)
            self.controller = CameraController.for_scene(lo, hi, up, home)
            self.controller.set_mode(self._settings.of(CameraOptions).mode)
            self.camera_index = -1
        self.history = StatsHistory()
        self.window.set_title(
            f"splatscope - {scene_name(scene.source)} ({scene.count:,} Gaussians)"
        )

    @property
    def scene(self) -> GaussianScene:
        """The scene shown."""
        return self._session.scene

    @property
    def gpu_scene(self) -> GpuScene:
        """The scene shown, on the GPU."""
        return self._session.gpu_scene

    @property
    def _session(self) -> ViewerSession:
        assert self.session is not None, "no scene yet"
        return self.session

    def _finish_load(self) -> None:
        result = self.loader.poll()
        if result is None:
            return
        if result.scene is None:
            self.error, self.message = f"could not open {result.path}: {result.error}", ""
            return
        try:
            self._use_scene(result.scene)
        except Exception as exc:  # e.g. out of GPU memory: keep showing the old scene
            self.error, self.message = f"could not show {result.path}: {exc}", ""
            return
        self.error, self.message = "", f"opened {result.path}"

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        """Draw frames until the window is closed, then free everything."""
        try:
            while not self.window.should_close:
                self._wait_for_input()
                if not self.window.minimized:
                    self.frame()
        finally:
            self.release()

    def _wait_for_input(self) -> None:
        """Poll input; sleep until some arrives (or a short time) when nothing is moving."""
        moving = (
            self.controller.in_transition
            or self.player.playing
            or self.settings.of(DisplayOptions).redraw
            or self.loader.busy
            or self.target.drawing
            or self._session.busy(glfw.get_time())
            or self.input.held()
        )
        self.input.poll(0.0 if moving else IDLE_WAIT_SECONDS)

    def frame(self) -> None:
        """One frame: update, UI, render if needed, show."""
        now = glfw.get_time()
        dt, self._clock = now - self._clock, now
        self._finish_load()
        self.controller.near_plane = self.gpu_scene.near_plane(self.settings.of(RenderSettings))
        self.controller.update(dt, self.input.held())
        end = self.player.advance(dt)
        if end is not None:  # playback ended: the camera stays at the last pose
            self.controller.set_pose(end, self.controller.distance)
        self.gui.process_inputs()
        imgui.new_frame()
        self._track_pointer()
        settings, crop, actions = self._draw_ui()
        imgui.render()
        self._apply(settings, crop)
        for action in actions:
            self.perform(action.name, action.argument)
        self.input.dispatch()  # shortcut keys, now that a click into a text field took effect
        self._poll_dialog()
        inputs = self._session.update(self.settings, self.camera(), now, dt)
        self._run_pick()
        stats = self.target.render(
            self.renderer,
            self.gpu_scene,
            inputs,
            self.settings.of(RenderSettings),
            self.settings.of(RasterSettings),
            self.settings.of(DisplayOptions).redraw,
            self.pacer,
        )
        self.history.add(stats)
        self.target.present(self.window.framebuffer_size)
        self.gui.render(imgui.get_draw_data())
        _restore_gl_state()
        self.window.swap()

    def inputs(self, width: int = 0, height: int = 0) -> FrameInputs:
        """The per-frame inputs of the current view (default size: the framebuffer's)."""
        return FrameInputs(self.camera(width, height))

    def frame_inputs(self) -> FrameInputs:
        """The inputs of the frame drawn in the window: LOD cut, render scale, foveation."""
        return self._session.frame_inputs(self.camera(), self.settings)

    def camera(self, width: int = 0, height: int = 0) -> Camera:
        """The current view for an image of the given size (default: the framebuffer's)."""
        if not (width and height):
            width, height = self.window.framebuffer_size
        played = self.player.camera(width, height)
        return played if played is not None else self.controller.camera(width, height)

    # -- UI -------------------------------------------------------------------------------------

    def _draw_ui(self) -> tuple[SettingsSet, CropBox, list[Action]]:
        settings, crop = self.settings, self._session.crop
        actions: list[Action] = []
        display = settings.of(DisplayOptions)
        if display.panel:
            settings, crop, actions = self.panel.draw(settings, crop, self._facts())
        if display.overlay:
            sort, gaussians = self.renderer.sort_kind, self.gpu_scene.leaves
            backend = f"{self.renderer.backend} ({self.renderer.backend_reason})"
            draw_overlay(self.history, backend, sort, gaussians)
            steps, span_ms = self.target.last_frame
            if steps > 1:
                append_overlay_lines([f"last splat frame: {steps} parts, one a UI frame, "
                                      f"shown {span_ms:.0f} ms after it was begun"])  # fmt: skip
        if display.help and not draw_help():
            settings = settings.changed("display", help=False)
        self._draw_outlines()
        self._draw_context(settings.of(DisplayOptions))
        chosen = self.browser.draw()
        if chosen is not None:
            actions.append(Action(Command.OPEN, chosen))
        return settings, crop, actions

    def _scene_frame(self) -> SceneFrame:
        """The scene's framing box, the controller's up, training cameras and SfM points."""
        lo, hi = self.controller.bounds
        return SceneFrame(lo, hi, self.controller.up, self.scene.cameras, self.scene.points)

    def _draw_context(self, display: DisplayOptions) -> None:
        """The frustums, axes, grid and points asked for in `display`, over the view."""
        camera = self.camera()
        window_w, window_h = self.window.window_size
        scale = (window_w / camera.width, window_h / camera.height)
        near = self.controller.near_plane
        draw_context(display, self._scene_frame(), camera, near, scale, self.camera_index)

    def _draw_outlines(self) -> None:
        """The foveation levels' borders and the gaze over the view, when asked for."""
        fov, camera = self.settings.of(FoveationSettings), self.camera()
        fovea = self._session.fovea
        lines = fovea.outlines(camera, fov)
        if lines:
            window_w, window_h = self.window.window_size
            gaze = gaze_pixel(camera, fovea.gaze(fov, camera))
            draw_outlines(lines, gaze, (window_w / camera.width, window_h / camera.height))

    def _track_pointer(self) -> None:
        """Keep the mouse pointer's position over the view (not over the UI) for the gaze."""
        if imgui.get_io().want_capture_mouse:
            return
        x, y = glfw.get_cursor_pos(self.window.handle)
        window_w, window_h = self.window.window_size
        width, height = self.window.framebuffer_size
        if 0.0 <= x < window_w and 0.0 <= y < window_h:
            self._session.fovea.pointer = (x * width / window_w, y * height / window_h)

    @property
    def settings(self) -> SettingsSet:
        """Every settings group; the camera group is the controller's (it owns mode, up, FOV)."""
        return self._settings.replaced(self._camera_options())

    def _camera_options(self) -> CameraOptions:
        c = self.controller
        return CameraOptions(mode=c.mode, up_axis=c.up_axis, fov_y_degrees=c.fov_y_degrees)

    def _facts(self) -> SceneFacts:
        session = self._session
        scene, latest = session.host, self.history.latest  # no copy back for the panel
        return SceneFacts(
            source=scene.source,
            count=session.gpu_scene.count,
            sh_degree=session.gpu_scene.sh_degree,
            bounds=scene.bounds,
            cameras=tuple(camera.name for camera in scene.cameras),
            gpu_bytes=self.renderer.gpu_bytes,
            host_bytes=scene.nbytes,
            device=self.renderer.device.renderer,
            backend=f"{self.renderer.backend} ({self.renderer.backend_reason})",
            sort=self.renderer.sort_kind,
            latest=self.history.latest,
            fly_speed=self.controller.fly_speed,
            keyframes=len(self.player.path.keyframes),
            path_seconds=self.player.path.duration,
            playing=self.player.playing,
            loading=self.loader.busy,
            message=self.message,
            error=self.error,
            histograms=() if session.host_stale else session.histograms,
            selected=session.selected,
            heat_range=session.heat_range(self.camera(), self.settings.of(RenderSettings)),
            file_dialog=self.has_dialog,
            pruning=session.pruning_facts(self.settings.of(PruneSettings)),
            lod=dataclasses.replace(
                session.lod_facts(latest), showing_levels=self._showing_lod_levels()
            ),
            fovea=session.fovea.facts(latest),
        )

    def _apply(self, new: SettingsSet, crop: CropBox | None = None) -> None:
        """Carry out the differences between `new` (and `crop`) and the current settings."""
        old, self._settings = self.settings, new
        if any(new[group] != old[group] for group in IMAGE_GROUPS):
            self.message = ""  # a comparison's numbers are of the image before
        if new.of(RasterSettings) != old.of(RasterSettings):
            self.renderer.set_raster(new.of(RasterSettings))
        vsync = new.of(DisplayOptions).vsync
        if vsync != old.of(DisplayOptions).vsync:
            self.window.set_vsync(vsync)
        camera, current = new.of(CameraOptions), self._camera_options()
        if camera.mode != current.mode:
            self.controller.set_mode(camera.mode)
        if camera.up_axis != current.up_axis:
            self.controller.set_up_axis(camera.up_axis)
        if camera.fov_y_degrees != current.fov_y_degrees:
            self.controller.set_fov(camera.fov_y_degrees)
        if crop is not None:
            self._session.set_crop(crop)

    def _compare_fovea(self) -> None:
        quality = self._session.compare_fovea(self.camera(), self.settings, self.ctx.finish)
        self.message = (
            f"fovea PSNR {psnr_text(quality.fovea[0]).strip()}, "
            f"periphery {psnr_text(quality.periphery[0]).strip()}, "
            f"frame time x{quality.time_ratio:.2f} of the full render"
        )

    def _apply_preset(self, name: str) -> None:
        """Set the keys of preset `name` (viewer/features/presets.py)."""
        panel_groups = [group for group in GROUPS if group.panel]
        self._apply(with_preset(self.settings, name, panel_groups))
        self.message = f"preset {name}: LOD, foveation and pruning set"

    def _showing_lod_levels(self) -> bool:
        render = self.settings.of(RenderSettings)
        return render.mode == "heatmap" and render.heatmap == "lod_level"

    def _toggle_lod_levels(self) -> None:
        """The level heat map on, or back to colour when it is shown."""
        if self._showing_lod_levels():
            self._change("render", mode="colour")
        else:
            self._change("render", mode="heatmap", heatmap="lod_level")

    def _compare_lod(self) -> None:
        psnr, ssim = self._session.compare_lod(self.camera(), self.settings)
        self.message = f"PSNR {psnr:.2f} dB, SSIM {ssim:.4f} against the full render"

    def _compare_pruning(self) -> None:
        psnr, ssim = self._session.compare_pruning(self.camera(), self.settings.of(RenderSettings))
        self.message = f"PSNR {psnr:.2f} dB, SSIM {ssim:.4f} against the unpruned view"

    def _save_pruned(self, file: str) -> None:
        try:
            kept = self._session.save_pruned(self.settings.of(PruneSettings), file)
        except SceneError as exc:
            self.error = str(exc)
            return
        self.message = f"wrote {kept:,} Gaussians to {file}"

    def _show_score(self) -> None:
        """The heatmap mode of the pruning score."""
        self._change("render", mode="heatmap", heatmap=self.settings.of(PruneSettings).score)

    # -- picking ----------------------------------------------------------------------------------

    def click(self, x: float, y: float) -> None:
        """A click on the view: fly to a training camera or pick a Gaussian.

        With frustums shown, a click within a few pixels of one flies to its camera; otherwise
        the Gaussian adding most to that pixel is picked (next frame).
        """
        if self.settings.of(DisplayOptions).frustums and self.scene.cameras:
            width, height = self.window.framebuffer_size
            window_w = max(self.window.window_size[0], 1)
            pixel = (x * width / window_w, y * height / max(self.window.window_size[1], 1))
            camera = self.camera(width, height)
            hit = pick_camera(
                self._scene_frame(), camera, self.controller.near_plane, pixel, width / window_w
            )
            if hit is not None:
                self.perform(Command.GO_TO_CAMERA, hit)
                return
        self._pick = ("select", x, y)

    def double_click(self, x: float, y: float) -> None:
        """A double click on the view: orbit the surface point under the cursor from now on."""
        self._pick = ("pivot", x, y)

    def _run_pick(self) -> None:
        if self._pick is None:
            return
        kind, x, y = self._pick
        self._pick = None
        width, height = self.window.framebuffer_size
        pixel = window_to_pixel(x, y, self.window.window_size, (width, height))
        pick = self._session.pick(
            self.inputs(width, height), pixel, self.settings.of(RenderSettings)
        )
        if kind == "select":
            self._session.select(pick.index, pick.weight)
            no_pick = "no Gaussian at that pixel"
            self.message = no_pick if pick.index is None else f"picked Gaussian {pick.index:,}"
            return
        if pick.point is None or pick.depth is None:
            self.message = "nothing under the cursor to orbit"
            return
        self.player.time = None
        self.controller.set_pivot(pick.point)
        self.message = f"orbiting the point at depth {pick.depth:.3g}"

    def _browse(self) -> None:
        """The system's file dialog where there is one, else the window's own browser."""
        start = Path(self._session.host.source).parent
        if self.has_dialog:
            self.dialog.show(start=str(start))
        else:
            self.browser.show(start if start.is_dir() else Path.cwd())

    def _poll_dialog(self) -> None:
        path = self.dialog.poll()
        if path:
            self.open(path)

    # -- actions (shortcuts and panel buttons) --------------------------------------------------

    def perform(self, action: Command | str, argument=None) -> None:
        """Run a shortcut or panel command (see `shortcuts.PRESSED`, `PANEL_ACTIONS`).

        Raises:
            ValueError: for a name that is no Command.
        """
        self._handlers(argument)[Command(action)]()

    def _handlers(self, argument) -> dict[Command, Callable[[], None]]:
        """Each action's handler; `argument` is a panel action's path or index."""
        controller = self.controller
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
            Command.SHOW_SCORE: self._show_score,
            Command.CLEAR_SELECTION: lambda: self._session.select(None),
            Command.BROWSE: self._browse,
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
            Command.CLEAR_PATH: self.player.clear,
            Command.SAVE_PATH: lambda: self._path_file(argument, self.player.save),
            Command.LOAD_PATH: lambda: self._path_file(argument, self.player.load),
            Command.OPEN: lambda: self.open(argument),
            Command.SAVE_CAMERA: lambda: self._save_camera(argument),
            Command.ESCAPE: lambda: self._escape(again=bool(argument)),
            Command.QUIT: self.window.close,
        }

    def _escape(self, again: bool) -> None:
        """What Esc does: undo the first of help shown, fly mode, a selection, path playback.

        With none of these, a first Esc asks for a second (`again`: pressed again within
        `input.DOUBLE_PRESS_SECONDS`), which quits.
        """
        armed, self._quit_armed = self._quit_armed, False
        if self.settings.of(DisplayOptions).help:
            self._toggle("help")
        elif self.controller.mode == "fly":
            self.controller.set_mode("orbit")
            self.message = "orbit mode (Tab: fly mode)"
        elif self._session.selected is not None:
            self._session.select(None)
            self.message = "selection cleared"
        elif self.player.playing:
            self._toggle_playback()
        elif again and armed:
            self.window.close()
        else:
            self._quit_armed = True
            self.message = "press Esc again to quit"

    def _change(self, group: str, **changes) -> None:
        """Apply new values of some fields of one settings group ("render", "display", ...)."""
        self._apply(self.settings.changed(group, **changes))

    def _toggle(self, field: str) -> None:
        self._change("display", **{field: not getattr(self.settings["display"], field)})

    def _next_render_mode(self) -> None:
        mode = RENDER_MODES[
            (RENDER_MODES.index(self.settings.of(RenderSettings).mode) + 1) % len(RENDER_MODES)
        ]
        self._change("render", mode=mode)
        self.message = f"render mode: {mode}"

    def _step_camera(self, step: int) -> None:
        cameras = self.scene.cameras
        if cameras:
            self._go_to_camera((self.camera_index + step) % len(cameras))
        else:
            self.message = "this scene has no training cameras"

    def _go_to_camera(self, index: int) -> None:
        self.camera_index = index
        self.panel.camera_index = index
        camera = self.scene.cameras[index]
        self.controller.go_to(camera)
        self.message = f"camera {index}: {camera.name}" if camera.name else f"camera {index}"

    def open(self, path: str) -> None:
        """Start loading the scene at `path`; the current one stays until it is ready.

        A load still running is superseded: its scene is dropped when it comes (the panel shows
        the newest load's progress line, `loader.busy`).
        """
        self.error = self.message = ""
        self.loader.request(path)

    def drop(self, paths: list[str]) -> None:
        """Files dropped on the window: open the first."""
        if paths:
            self.open(paths[0])

    def drag(self, button: str, dx: float, dy: float) -> None:
        """Mouse drag over the view: orbit, look or pan."""
        self.player.time = None
        self.controller.drag(button, dx, dy, self.window.window_size[1])

    def scroll(self, steps: float) -> None:
        """Wheel over the view: zoom or fly speed."""
        self.controller.scroll(steps)

    def _screenshot(self) -> None:
        capture = self.settings.of(CaptureOptions)
        width, height = screenshot_size(self.window.framebuffer_size, capture.width, capture.height)
        path = screenshot_path(Path.cwd(), datetime.datetime.now())
        try:
            inputs = self.inputs(width, height)
            save_screenshot(
                self.renderer, self.gpu_scene, inputs, self.settings.of(RenderSettings), path
            )
        except OSError as exc:
            self.error = f"could not save the screenshot: {exc}"
            return
        finally:
            self.renderer.fit_view(*self.window.framebuffer_size)  # a big capture's memory
        self.message = f"saved {width}x{height} screenshot {path}"
        print(f"splatscope: {self.message}", flush=True)

    def _add_keyframe(self) -> None:
        width, height = self.window.framebuffer_size
        step = self.settings.of(CaptureOptions).keyframe_step
        self.message = self.player.add(self.camera(width, height), step)

    def _toggle_playback(self) -> None:
        if self.player.playing:
            self.controller.set_pose(Pose.of(self.camera()), self.controller.distance)
            self.player.time = None
        else:
            self.message = self.player.play()

    def _path_file(self, file: str, how: Callable[[str], str]) -> None:
        """Save or load the path file `file` (`how`: the player's save or load)."""
        try:
            self.message = how(file)
        except (OSError, SceneError) as exc:
            self.error = f"could not use {file}: {exc}"

    def _save_camera(self, file: str) -> None:
        """Write the current view as a camera file (`render --camera`, `view --camera` read it)."""
        width, height = self.window.framebuffer_size
        try:
            save_camera_file(file, self.camera(width, height))
        except OSError as exc:
            self.error = f"could not save {file}: {exc}"
            return
        self.message = f"saved the {width}x{height} view to {file}"

    def release(self) -> None:
        """Free the UI, GL objects and the loader thread."""
        self.loader.shutdown()
        self.gui.shutdown()
        implot.destroy_context()
        imgui.destroy_context()
        self.target.release()
        if self.session is not None:
            self.session.release()
        self.renderer.release()
