"""The desktop viewer: window, input, camera, ImGui panel and timing overlay.

Everything here sits on top of the renderer's public API; nothing under `viewer.render` imports
from this package.
"""
