"""The window-free viewer core: one scene on the GPU with its features, driven by settings.

`ViewerSession` owns the GPU scene, the flag layers and the pruning, LOD and foveation states,
and turns the settings and a camera into each frame's `FrameInputs` in one ordered `update`. The
window (viewer.app), `render` (viewer.headless) and the bench drive it; no module here imports
the UI.
"""
