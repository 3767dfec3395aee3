"""`splatscope view --network-gui HOST:PORT`: the window on an original 3DGS trainer's network GUI.

The viewer app with the trainer's images in place of its own splats: each frame the camera
controller's view (at the window's size times the image scale) becomes the request the client's
worker sends (viewer.netgui.client), and the newest image received is uploaded into the view
target that the window shows. A "Network GUI" window shows the connection's state (a problem,
or how long a late reply has been waited for) and edits the remote switches; the overlay shows
the round-trip time. Nothing here waits on the network; a new image wakes the UI loop.

There is no scene on this side: a placeholder of eight transparent Gaussians on the corners of
a 2-unit cube gives the camera controller its framing (`--camera` gives a view: an INRIA
cameras.json of the training, for example), and the world up axis is -Y unless `--up` says
otherwise (COLMAP's worlds, whose cameras look with y down).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import glfw
import moderngl
import numpy as np
from imgui_bundle import imgui

from viewer.app.app import ViewerApp
from viewer.app.overlay import append_overlay_lines
from viewer.app.view_target import ViewTarget
from viewer.app.window import Window
from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.netgui.client import ClientStatus, NetworkGuiClient
from viewer.netgui.protocol import ProtocolError, RemoteSwitches, request_fields
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet
from viewer.settings import DisplayOptions
from viewer.stats import FrameStats

WINDOW_WIDTH = 360.0
MARGIN = 8.0
DEFAULT_UP = "-Y"
STATE_COLOURS = {"error": (1.0, 0.45, 0.4, 1.0), "waiting": (1.0, 0.8, 0.3, 1.0)}


class RemoteImageView(ViewTarget):
    """The view target holding the trainer's newest image; the splats are not rendered here."""

    def __init__(self, ctx: moderngl.Context) -> None:
        super().__init__(ctx)
        self.image_size = (0, 0)

    def show(self, image: np.ndarray) -> None:
        """Upload `image` ([H, W, 3] uint8, rows top to bottom) as the image shown."""
        height, width = image.shape[:2]
        rgba = np.full((height, width, 4), 255, np.uint8)
        rgba[..., :3] = image[::-1]  # the texture's first row is the bottom one
        self.image.ensure_size(width, height)
        self.image.texture.write(rgba.tobytes())
        self.image_size = (width, height)

    def render(self, *args: Any, **kwargs: Any) -> FrameStats | None:
        """Nothing to render: the trainer does (`show` puts its images up)."""
        return None


class NetworkGuiApp(ViewerApp):
    """The viewer showing a remote trainer's images (see the module's documentation)."""

    def __init__(
        self,
        window: Window,
        address: tuple[str, int],
        settings: SettingsSet,
        *,
        camera: Camera | None = None,
        up: str = "auto",
    ) -> None:
        super().__init__(
            window, placeholder_scene(address), _no_files, settings, camera=camera,
            up=DEFAULT_UP if up == "auto" else up,
        )  # fmt: skip
        self.target.release()
        self.view = RemoteImageView(self.ctx)
        self.target = self.view
        self.switches = RemoteSwitches()
        self.image_scale = 1.0
        self.view_problem = ""  # why the view cannot be sent (an image over the size limit)
        self.client = NetworkGuiClient(*address, notify=glfw.post_empty_event)
        self.window.set_title(f"splatscope - network GUI {self.client.address}")

    def frame(self) -> None:
        """Show the newest image and send the current view, then the viewer's frame."""
        image = self.client.take_image()
        if image is not None:
            self.view.show(image.image)
        self._send_view()
        super().frame()

    def _send_view(self) -> None:
        width, height = self.window.framebuffer_size
        scaled = (max(round(width * self.image_scale), 1), max(round(height * self.image_scale), 1))
        try:
            fields = request_fields(self.camera(*scaled), self.switches)
        except ProtocolError as exc:
            self.view_problem = f"the view is not sent: {exc}"
            return
        self.view_problem = ""
        self.client.send(fields)

    # -- UI -------------------------------------------------------------------------------------

    def _draw_ui(self):
        settings, crop, actions = super()._draw_ui()
        status = self.client.status()
        if settings.of(DisplayOptions).overlay:
            append_overlay_lines(self._overlay_lines(status))
        self._remote_window(status)
        return settings, crop, actions

    def _overlay_lines(self, status: ClientStatus) -> list[str]:
        width, height = self.view.image_size
        return [
            f"network GUI: round trip {status.round_trip_ms:.1f} ms, "
            f"{status.replies:,} replies, image {width}x{height}"
        ]

    def _remote_window(self, status: ClientStatus) -> None:
        """The connection's state and the remote switches (sent with the next request)."""
        viewport = imgui.get_main_viewport()
        corner = imgui.ImVec2(
            viewport.work_pos.x + viewport.work_size.x - MARGIN,
            viewport.work_pos.y + viewport.work_size.y - MARGIN,
        )
        imgui.set_next_window_pos(corner, imgui.Cond_.always, imgui.ImVec2(1.0, 1.0))
        imgui.set_next_window_size(imgui.ImVec2(WINDOW_WIDTH, 0.0))
        imgui.set_next_window_bg_alpha(0.85)
        imgui.begin("Network GUI", None, imgui.WindowFlags_.no_move.value)
        imgui.push_item_width(-130.0)
        _state_line(status.state, status.text)
        if self.view_problem:
            _state_line("error", self.view_problem)
        if status.source_path:
            imgui.text_wrapped(f"source {status.source_path}")
        if status.replies:
            imgui.text(f"round trip {status.round_trip_ms:.1f} ms, {status.replies:,} replies")
        switches = self.switches
        _, train = imgui.checkbox("train", switches.train)
        imgui.set_item_tooltip("the trainer trains between images (off: it only renders)")
        _, keep_alive = imgui.checkbox("keep alive", switches.keep_alive)
        imgui.set_item_tooltip("after the last iteration the trainer keeps serving this window")
        _, scaling = imgui.slider_float(
            "scaling modifier", switches.scaling_modifier, 0.01, 1.0, "%.2f"
        )
        self.switches = dataclasses.replace(
            switches, train=train, keep_alive=keep_alive, scaling_modifier=scaling
        )
        _, self.image_scale = imgui.slider_float("image scale", self.image_scale, 0.25, 1.0, "%.2f")
        imgui.set_item_tooltip("of the window's size: the size of the images asked for")
        if imgui.button("Reconnect"):
            self.client.reconnect()
        imgui.pop_item_width()
        imgui.end()

    # -- what needs the model ---------------------------------------------------------------------

    def click(self, x: float, y: float) -> None:
        """Nothing to pick: the trainer sends images only."""
        self.message = "the network GUI sends images only: nothing to pick"

    def double_click(self, x: float, y: float) -> None:
        """Nothing to orbit around: the trainer sends no depth."""
        self.click(x, y)

    def open(self, path: str) -> None:
        """The window shows the trainer's images only."""
        self.error = "this window shows a trainer's images; open files with splatscope view"

    def release(self) -> None:
        """Stop the client, then free everything."""
        self.client.close()
        super().release()


def _state_line(state: str, text: str) -> None:
    """`text`, wrapped, in the colour of `state` (none for a working connection)."""
    colour = STATE_COLOURS.get(state)
    if colour is None:
        imgui.text_wrapped(text)
        return
    imgui.push_style_color(imgui.Col_.text, imgui.ImVec4(*colour))
    imgui.text_wrapped(text)
    imgui.pop_style_color()


def placeholder_scene(address: tuple[str, int]) -> GaussianScene:
    """Eight transparent Gaussians on the corners of [-1, 1]^3 (the camera's framing)."""
    corners = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))
    return GaussianScene.from_arrays(
        corners, np.full((8, 3), 0.01), np.tile([1.0, 0.0, 0.0, 0.0], (8, 1)), np.zeros(8),
        np.zeros((8, 1, 3)), source=f"network GUI {address[0]}:{address[1]}",
    )  # fmt: skip


def _no_files(path: str) -> GaussianScene:
    raise SceneError(path, "this window shows a trainer's images only")
