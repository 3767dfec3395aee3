"""The live window: the viewer on a model that a training loop in another process updates.

Runs in its own process (viewer.live.attach spawns it): GLFW and the GL context live on this
process's main thread. Each frame, before the viewer's own work, the updates that came through
the pipe are taken (the newest wins) and written into a raw GPU scene through CUDA-GL interop
(CUDA tensors, where it works) or the host copy; the view re-renders because the scene's
version changed. A "Training" window shows the step, loss, PSNR, the upload's time and path,
and edits the `LiveControls` the trainer reads back (pause, step, learning-rate scale, SH
degree, densification, update rate).

When densification changes the number of Gaussians the new rows are written into the grown GPU
scene and nothing is copied back: what reads the model on the CPU (picking, the crop box,
pruning, histograms) takes a host snapshot when it first needs one after a change, and when
training is paused (ViewerSession.rows_changed).

`run_remote_window` is the same window on a training served on the network
(`splatscope view tcp://HOST:PORT`): its connection (viewer.remote.client) polls as the pipe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
from collections import deque
from typing import Any

import glfw
import numpy as np
from imgui_bundle import imgui, implot

from viewer.app.app import ViewerApp
from viewer.app.overlay import append_overlay_lines
from viewer.app.widgets import edit_settings
from viewer.app.window import NoDisplayError, Window, init_glfw
from viewer.errors import SceneError
from viewer.protocol import LiveOptions, ModelUpdate, ViewerState
from viewer.render.gpu_scene import GpuScene, HostUpload
from viewer.render.live_feed import LiveFeed
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import DisplayOptions, LiveControls

WINDOW_WIDTH = 330.0
MARGIN = 8.0
LOSS_HISTORY = 2000  # losses plotted
FIRST_UPDATE_SECONDS = 600.0  # how long the window waits for the trainer's first update


class LiveViewerApp(ViewerApp):
    """The viewer app fed by a training loop through `conn` (see the module's documentation)."""

    def __init__(self, window: Window, conn: Any, first: ModelUpdate, options: LiveOptions) -> None:
        self.conn = conn
        self.options = options
        self.feed = LiveFeed()
        self.feed.receive(first)
        self.controls: LiveControls = options.controls
        self.steps = 0
        self.trainer_gone = False
        self.upload_problem: str | None = None
        self._noticed = False
        self.losses: deque[tuple[int, float]] = deque(maxlen=LOSS_HISTORY)
        self._record(first)
        settings = SettingsSet().changed(
            "render", background=tuple(options.background), near_plane=options.near_plane
        )
        super().__init__(window, self._snapshot(), _no_files, settings, up=options.up)
        self._send_state()

    # -- the live model -------------------------------------------------------------------------

    def _use_scene(
        self, scene: GaussianScene, gpu_scene: GpuScene | None = None, keep_view: bool = False
    ) -> None:
        if gpu_scene is None:  # the first scene (from ViewerApp.__init__): the live model
            gpu_scene = self._live_scene()
        super()._use_scene(scene, gpu_scene, keep_view)
        self._set_title()

    def _set_title(self) -> None:
        self.window.set_title(f"{self.options.title} - {self.gpu_scene.count:,} Gaussians")

    def _live_scene(self) -> GpuScene:
        """A raw GPU scene holding the newest update, written through the chosen upload."""
        from viewer.render.interop import choose_upload

        upload, self.upload_problem = choose_upload(self.ctx, self.renderer.device)
        count = max(self.feed.count, 1)
        gpu_scene = GpuScene(self.ctx, self.renderer.device, count, raw=self.feed.raw)
        gpu_scene.upload = upload
        self._notice()
        self.feed.apply(gpu_scene)
        return gpu_scene

    def _notice(self) -> None:
        """One line when CUDA tensors have to take the host path."""
        if self.upload_problem and self.feed.on_device and not self._noticed:
            self._noticed = True
            print(
                f"splatscope: note: CUDA-GL interop unavailable ({self.upload_problem}); "
                "copying the model through host memory",
                file=sys.stderr,
                flush=True,
            )

    @property
    def upload_path(self) -> str:
        """How updates reach the GPU, for the overlay and the trainer."""
        upload = self.gpu_scene.upload
        if isinstance(upload, HostUpload):
            if not self.feed.on_device:
                return "host copy (CPU tensors)"
            return "host copy (interop unavailable)"
        return upload.name

    def _snapshot(self) -> GaussianScene:
        """The newest update as a host GaussianScene (activated; non-finite values zeroed)."""
        arrays = self.feed.host_arrays()
        for name, value in arrays.items():
            arrays[name] = np.nan_to_num(value, nan=0.0, posinf=0.0, neginf=0.0)
        rotations = arrays["rotations"]
        rotations[np.linalg.norm(rotations, axis=1) == 0.0] = (1.0, 0.0, 0.0, 0.0)
        return GaussianScene.from_arrays(
            arrays["means"], arrays["scales"], rotations, arrays["opacities"], arrays["sh"],
            source=self.options.title, cameras=self.options.cameras,
        )  # fmt: skip

    def _record(self, update: ModelUpdate) -> None:
        loss = update.stats.get("loss")
        if loss is not None and math.isfinite(loss):
            self.losses.append((update.step, loss))

    def _poll_trainer(self) -> None:
        """Take every message; put the newest model on the GPU; acknowledge it."""
        newest: ModelUpdate | None = None
        try:
            while self.conn.poll():
                message = self.conn.recv()
                if isinstance(message, ModelUpdate):
                    self.feed.receive(message)
                    self._record(message)
                    newest = message
                elif message == "close":
                    self.window.close()
        except (EOFError, OSError):
            if not self.trainer_gone:
                self.trainer_gone = True
                self.feed.note = "the training process ended"
        if newest is not None:
            self._notice()
        if not self.feed.due():
            return  # nothing new, or the last copy was recent (LiveFeed.due)
        if self.feed.apply(self.gpu_scene):  # densified: the new rows are on the GPU already
            self.session.rows_changed(self._snapshot)
            self._set_title()
        self._send_state()

    def _send_state(self, closed: bool = False, error: str = "") -> None:
        if self.trainer_gone:
            return
        state = ViewerState(
            self.feed.serial, self.controls, self.steps, closed, error, self.upload_path
        )
        try:
            self.conn.send(state)
        except (OSError, ValueError):
            self.trainer_gone = True

    # -- the frame ------------------------------------------------------------------------------

    def frame(self) -> None:
        """Take the trainer's updates, then the viewer's frame."""
        self._poll_trainer()
        super().frame()

    def _draw_ui(self):
        settings, crop, actions = super()._draw_ui()
        lod = settings.get("lod")
        if lod is not None and lod.enabled:  # its merged nodes are built from one model
            settings = settings.changed("lod", enabled=False)
            self.message = "level of detail is off in the live view: the model changes each step"
        if settings.of(DisplayOptions).overlay:
            append_overlay_lines(self._overlay_lines())
        self._training_window()
        return settings, crop, actions

    def _overlay_lines(self) -> list[str]:
        feed = self.feed
        return [
            f"training step {feed.step:,}, {feed.count:,} Gaussians",
            f"upload {feed.upload_ms:.2f} ms via {self.upload_path}",
        ]

    def _training_window(self) -> None:
        """Training numbers and controls; changes go back to the trainer."""
        feed = self.feed
        viewport = imgui.get_main_viewport()
        corner = imgui.ImVec2(
            viewport.work_pos.x + viewport.work_size.x - MARGIN,
            viewport.work_pos.y + viewport.work_size.y - MARGIN,
        )
        imgui.set_next_window_pos(corner, imgui.Cond_.always, imgui.ImVec2(1.0, 1.0))
        imgui.set_next_window_size(imgui.ImVec2(WINDOW_WIDTH, 0.0))  # height: fits the contents
        imgui.set_next_window_bg_alpha(0.85)
        imgui.begin("Training", None, imgui.WindowFlags_.no_move.value)
        imgui.push_item_width(-130.0)
        imgui.text(f"step {feed.step:,}   {feed.count:,} Gaussians")
        loss, psnr = feed.stats.get("loss"), feed.stats.get("psnr")
        parts = []
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        if psnr is not None:
            parts.append(f"PSNR {psnr:.2f} dB")
        if parts:
            imgui.text("   ".join(parts))
        imgui.text(f"upload {feed.upload_ms:.2f} ms, {self.upload_path}")
        imgui.set_item_tooltip(
            self.upload_problem or "device to device through CUDA-GL interop"
            if not isinstance(self.gpu_scene.upload, HostUpload)
            else self.upload_problem or "the tensors are on the CPU"
        )
        if math.isfinite(feed.latency_ms):
            imgui.text_disabled(f"{feed.updates:,} updates, latency {feed.latency_ms:.0f} ms")
        controls = edit_settings(self.controls)
        imgui.begin_disabled(not controls.paused)
        stepped = imgui.button("Step")
        imgui.end_disabled()
        imgui.set_item_tooltip("one training step while paused")
        if stepped:
            self.steps += 1
        if controls.paused and not self.controls.paused:
            self.session.rows_changed(self._snapshot)  # read again, exact, when inspected
        if controls != self.controls or stepped:
            self.controls = controls
            self._send_state()
        self._loss_plot()
        if feed.note:
            imgui.text_wrapped(feed.note)
        imgui.pop_item_width()
        imgui.end()

    def _loss_plot(self) -> None:
        if len(self.losses) < 2:
            return
        if implot.begin_plot("##loss", imgui.ImVec2(-1.0, 120.0)):
            flags = implot.AxisFlags_.auto_fit.value
            implot.setup_axes("step", "loss", flags, flags)
            steps = np.array([s for s, _ in self.losses], np.float64)
            losses = np.array([v for _, v in self.losses], np.float64)
            implot.plot_line("loss", steps, losses)
            implot.end_plot()

    # -- files are not opened here --------------------------------------------------------------

    def open(self, path: str) -> None:
        """The live view shows the model being trained only."""
        self.error = "the live view shows the model being trained; open files with splatscope view"

    def release(self) -> None:
        """Tell the trainer the window is gone, then free everything."""
        self._send_state(closed=True)
        super().release()


def _no_files(path: str) -> GaussianScene:
    raise SceneError(path, "the live view shows the model being trained only")


def run_remote_window(address: str, token: str, width: int, height: int) -> int:
    """`splatscope view tcp://HOST:PORT --token T`: watch and steer a served training.

    Raises:
        SceneError: one line, when the training cannot be reached or refuses the token.
    """
    from viewer.remote.address import parse_address, url
    from viewer.remote.client import RemoteError, connect

    try:
        host, port = parse_address(address)
    except ValueError as exc:
        raise SceneError(address, str(exc)) from None
    try:
        trainer = connect(host, port, token)
    except RemoteError as exc:  # its line starts with the address, which SceneError puts first
        raise SceneError(address, str(exc).removeprefix(f"{url(host, port)} ")) from None
    options = dataclasses.replace(trainer.options, width=width, height=height)
    try:
        try:
            init_glfw()
        except NoDisplayError as exc:
            raise SceneError(address, f"no display to open a window on ({exc})") from None
        first = _first_update(trainer)
        if first is None:
            raise SceneError(address, "the training sent no model")
        window = Window(width, height, options.title, vsync=True)
        LiveViewerApp(window, trainer, first, options).run()
    finally:
        trainer.close()
        glfw.terminate()
    return 0


def _first_update(conn: Any) -> ModelUpdate | None:
    """Wait for the trainer's first model (None: the trainer went away or asked to close)."""
    waited = 0.0
    while waited < FIRST_UPDATE_SECONDS:
        try:
            if conn.poll(0.1):
                message = conn.recv()
                if isinstance(message, ModelUpdate) and message.tensors is not None:
                    return message
                if message == "close":
                    return None
        except (EOFError, OSError):
            return None
        waited += 0.1
    return None


def run_live_window(conn: Any, options: LiveOptions) -> None:
    """The window process: open the window on the trainer's first update, run until closed."""
    error = ""
    try:
        init_glfw()
    except NoDisplayError as exc:
        error = f"no display to open a window on ({exc})"
    if error:
        _send_closed(conn, options, error)
        return
    try:
        first = _first_update(conn)
        if first is None:
            return
        try:
            window = Window(options.width, options.height, options.title, vsync=True)
        except Exception as exc:  # GLUnavailableError and GLFW's own failures
            _send_closed(conn, options, f"no OpenGL 4.3 window ({exc})")
            return
        app = LiveViewerApp(window, conn, first, options)
        app.run()
    except Exception as exc:
        _send_closed(conn, options, f"the live window failed: {type(exc).__name__}: {exc}")
        raise
    finally:
        glfw.terminate()


def _send_closed(conn: Any, options: LiveOptions, error: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        conn.send(ViewerState(controls=options.controls, closed=True, error=error))
