"""The viewer application: one window, one scene on the GPU, a camera, the panel and overlays.

Each frame: input -> camera update -> UI (panel returns new settings and actions) -> apply ->
splats rendered into the cached view if anything they depend on changed (on a slow device a
part of that frame, paced to keep the UI's rate) -> the last finished view copied to the
window -> UI drawn over it -> swap.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import glfw
import moderngl
import OpenGL.GL as gl
from imgui_bundle import imgui, implot
from imgui_bundle.python_backends.glfw_backend import GlfwRenderer

from viewer.app.actions import AppActions, showing_lod_levels
from viewer.app.camera_controller import CameraController
from viewer.app.commands import Command
from viewer.app.context_overlay import pick_camera
from viewer.app.file_dialog import SceneChooser
from viewer.app.frame_pacer import FramePacer, ui_frame_ms
from viewer.app.help_window import draw_help
from viewer.app.input import InputRouter
from viewer.app.overlay import append_overlay_lines, draw_overlay
from viewer.app.panel import Action, Panel, SceneFacts
from viewer.app.path_player import PathPlayer
from viewer.app.scene_loader import SceneLoader
from viewer.app.stream_panel import stream_overlay_line
from viewer.app.view_overlays import ViewOverlays
from viewer.app.view_target import ViewTarget
from viewer.app.window import Window
from viewer.camera import Camera
from viewer.core.inspection import CropBox, window_to_pixel
from viewer.core.session import ViewerSession
from viewer.formats.inria_output import scene_name
from viewer.framing import default_camera, framing_bounds, resolve_up
from viewer.render.context import REQUIRED_GL
from viewer.render.frame_inputs import FrameInputs
from viewer.render.gpu_scene import GpuScene
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import (
    CameraOptions,
    DisplayOptions,
    PruneSettings,
    RasterSettings,
    RenderSettings,
)
from viewer.stats import StatsHistory

IDLE_WAIT_SECONDS = 0.1  # longest wait for input while nothing moves
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
        window.on_resize = self.input.count_event
        self.panel = Panel()
        self.loader = SceneLoader(read_scene)
        self.chooser = SceneChooser()
        self.history = StatsHistory()
        self._settings = settings  # its camera group: see `settings`
        self.player = PathPlayer()
        self.actions = AppActions(self)
        self.overlays = ViewOverlays(self)
        self.message = self.error = ""
        self._current: ViewerSession | None = None  # until the first scene is up
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
        old = self._current
        self._current = ViewerSession(self.renderer, scene, gpu_scene)
        if old is not None:
            if keep_view:
                self._current.set_crop(old.crop)
            if old.gpu_scene is not self._current.gpu_scene:
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
        stream = self._current.stream
        count = f"{scene.count:,}" if stream is None else f"{stream.meta.counts[0]:,} streamed"
        self.window.set_title(f"splatscope - {scene_name(scene.source)} ({count} Gaussians)")

    @property
    def scene(self) -> GaussianScene:
        """The scene shown."""
        return self.session.scene

    @property
    def gpu_scene(self) -> GpuScene:
        """The scene shown, on the GPU."""
        return self.session.gpu_scene

    @property
    def session(self) -> ViewerSession:
        """The scene's viewer session (its GPU scene and feature states)."""
        assert self._current is not None, "no scene yet"
        return self._current

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
            or self.session.busy(glfw.get_time())
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
        self.overlays.track_pointer()
        settings, crop, actions = self._draw_ui()
        imgui.render()
        self.apply(settings, crop)
        for action in actions:
            self.perform(action.name, action.argument)
        self.input.dispatch()  # shortcut keys, now that a click into a text field took effect
        inputs = self.session.update(self.settings, self.camera(), now, self.target.take_period())
        self._run_pick()
        self.pacer.ui_ms = ui_frame_ms(self.session.target_fps)
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

    def frame_inputs(self) -> FrameInputs:
        """The inputs of the frame drawn in the window: LOD cut, render scale, foveation."""
        return self.session.frame_inputs(self.camera(), self.settings)

    def camera(self, width: int = 0, height: int = 0) -> Camera:
        """The current view for an image of the given size (default: the framebuffer's)."""
        if not (width and height):
            width, height = self.window.framebuffer_size
        played = self.player.camera(width, height)
        return played if played is not None else self.controller.camera(width, height)

    # -- UI -------------------------------------------------------------------------------------

    def _draw_ui(self) -> tuple[SettingsSet, CropBox, list[Action]]:
        settings, crop = self.settings, self.session.crop
        actions: list[Action] = []
        display = settings.of(DisplayOptions)
        if display.panel:
            settings, crop, actions = self.panel.draw(settings, crop, self.facts())
        if display.overlay:
            sort, gaussians = self.renderer.sort_kind, self.gpu_scene.leaves
            backend = f"{self.renderer.backend} ({self.renderer.backend_reason})"
            draw_overlay(self.history, backend, sort, gaussians)
            steps, span_ms = self.target.last_frame
            lines = [f"last frame in {steps} parts: shown after {span_ms:.0f} ms"] * (steps > 1)
            if self.session.stream is not None:
                lines.append(stream_overlay_line(self.session.stream.facts()))
            if lines:
                append_overlay_lines(lines)
        if display.help and not draw_help():
            settings = settings.changed("display", help=False)
        self.overlays.draw(settings.of(DisplayOptions))
        chosen = self.chooser.draw()
        if chosen:
            actions.append(Action(Command.OPEN, chosen))
        return settings, crop, actions

    @property
    def settings(self) -> SettingsSet:
        """Every settings group; the camera group is the controller's (it owns mode, up, FOV)."""
        return self._settings.replaced(self.controller.options)

    def facts(self) -> SceneFacts:
        """What the panel shows of the scene, the renderer, the path and the features."""
        session = self.session
        scene, latest = session.host, self.history.latest  # no copy back for the panel
        showing_levels = showing_lod_levels(self.settings.of(RenderSettings))
        return SceneFacts(
            source=scene.source,
            count=session.gpu_scene.count,
            sh_degree=session.gpu_scene.sh_degree,
            bounds=scene.bounds,
            cameras=tuple(camera.name for camera in scene.cameras),
            gpu_bytes=self.renderer.gpu_bytes,
            host_bytes=scene.nbytes + self.renderer.host_bytes,
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
            file_dialog=self.chooser.system,
            pruning=session.pruning_facts(self.settings.of(PruneSettings)),
            lod=dataclasses.replace(session.lod_facts(latest), showing_levels=showing_levels),
            fovea=session.fovea.facts(latest),
            stream=None if session.stream is None else session.stream.facts(),
        )

    def apply(self, new: SettingsSet, crop: CropBox | None = None) -> None:
        """Carry out the differences between `new` (and `crop`) and the current settings."""
        old, self._settings = self.settings, new
        if any(new[group] != old[group] for group in IMAGE_GROUPS):
            self.message = ""  # a comparison's numbers are of the image before
        if new.of(RasterSettings) != old.of(RasterSettings):
            self.renderer.set_raster(new.of(RasterSettings))
            self.history = StatsHistory()  # the overlay's times are of the backend in use
        vsync = new.of(DisplayOptions).vsync
        if vsync != old.of(DisplayOptions).vsync:
            self.window.set_vsync(vsync)
        camera, current = new.of(CameraOptions), self.controller.options
        if camera.mode != current.mode:
            self.controller.set_mode(camera.mode)
        if camera.up_axis != current.up_axis:
            self.controller.set_up_axis(camera.up_axis)
        if camera.fov_y_degrees != current.fov_y_degrees:
            self.controller.set_fov(camera.fov_y_degrees)
        if crop is not None:
            self.session.set_crop(crop)

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
                self.overlays.scene_frame(),
                camera,
                self.controller.near_plane,
                pixel,
                width / window_w,
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
        pick = self.session.pick(
            FrameInputs(self.camera(width, height)), pixel, self.settings.of(RenderSettings)
        )
        if kind == "select":
            self.session.select(pick.index, pick.weight)
            no_pick = "no Gaussian at that pixel"
            self.message = no_pick if pick.index is None else f"picked Gaussian {pick.index:,}"
            return
        if pick.point is None or pick.depth is None:
            self.message = "nothing under the cursor to orbit"
            return
        self.player.time = None
        self.controller.set_pivot(pick.point)
        self.message = f"orbiting the point at depth {pick.depth:.3g}"

    # -- actions (shortcuts and panel buttons) --------------------------------------------------

    def perform(self, action: Command | str, argument: Any = None) -> None:
        """Run a shortcut or panel command (`AppActions.perform`)."""
        self.actions.perform(action, argument)

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

    def release(self) -> None:
        """Free the UI, GL objects and the loader thread."""
        self.loader.shutdown()
        self.gui.shutdown()
        implot.destroy_context()
        imgui.destroy_context()
        self.target.release()
        if self._current is not None:
            self._current.release()
        self.renderer.release()
