"""What the window draws over the splat image besides its UI windows, and the pointer's gaze.

The scene context (frustums, axes, grid, SfM points: viewer/app/context_overlay.py) and the
foveation outlines (viewer/app/fovea_panel.py) are lines in the view's image pixels, scaled to
window units (HiDPI: not 1 to 1). The gaze follows the pointer while it is over the view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import glfw
from imgui_bundle import imgui

from viewer.app.context_overlay import SceneFrame, draw_context
from viewer.app.fovea_panel import draw_outlines
from viewer.render.fovea import gaze_pixel
from viewer.settings import DisplayOptions, FoveationSettings

if TYPE_CHECKING:  # the app makes its overlays
    from viewer.app.app import ViewerApp


class ViewOverlays:
    """The scene context and foveation outlines over one app's view."""

    def __init__(self, app: ViewerApp) -> None:
        self.app = app

    def scene_frame(self) -> SceneFrame:
        """The scene's framing box, the controller's up, training cameras and SfM points."""
        controller, scene = self.app.controller, self.app.scene
        lo, hi = controller.bounds
        return SceneFrame(lo, hi, controller.up, scene.cameras, scene.points)

    def draw(self, display: DisplayOptions) -> None:
        """The foveation outlines, then the context `display` asks for, over the view."""
        app = self.app
        camera = app.camera()
        window_w, window_h = app.window.window_size
        scale = (window_w / camera.width, window_h / camera.height)
        fov, fovea = app.settings.of(FoveationSettings), app.session.fovea
        lines = fovea.outlines(camera, fov)
        if lines:
            draw_outlines(lines, gaze_pixel(camera, fovea.gaze(fov, camera)), scale)
        near = app.controller.near_plane
        draw_context(display, self.scene_frame(), camera, near, scale, app.camera_index)

    def track_pointer(self) -> None:
        """Keep the mouse pointer's position over the view (not over the UI) for the gaze."""
        if imgui.get_io().want_capture_mouse:
            return
        window = self.app.window
        x, y = glfw.get_cursor_pos(window.handle)
        window_w, window_h = window.window_size
        width, height = window.framebuffer_size
        if 0.0 <= x < window_w and 0.0 <= y < window_h:
            self.app.session.fovea.pointer = (x * width / window_w, y * height / window_h)
