"""`splatscope view`: open a window on a scene (`run_viewer`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import glfw

from viewer.app.window import NoDisplayError, Window, init_glfw
from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.features.presets import preset_of
from viewer.scene import GaussianScene
from viewer.setting_specs import SettingsSet, from_arguments
from viewer.settings import DisplayOptions

EXIT_NO_DISPLAY = 2
BIG_FILE_BYTES = 100 * 2**20  # files that take a noticeable time to read before the window opens


def run_viewer(args: argparse.Namespace) -> int:
    """Open the viewer window on `args.scene` (the built-in scene when None); block until closed.

    Without a display: one line on stderr pointing to the headless commands, exit code 2.
    `args.camera` (a camera file, `args.camera_index` picking in it) is read before anything
    else and is the view the window opens at; `args.cameras` (viewer.formats.context_files)
    replaces the first scene's training cameras and SfM points; `args.up` the world up axis
    ("auto": guessed).

    Raises:
        SceneError: when the scene, the camera file or the cameras cannot be read.
        GLUnavailableError: when no OpenGL 4.3 window can be opened.
    """
    from viewer.builtin_scene import load_scene_or_builtin

    settings = from_arguments(args, "view", preset_of(args))
    camera = None
    if getattr(args, "camera", None):
        from viewer.formats.camera_files import load_camera_file

        camera = load_camera_file(args.camera, getattr(args, "camera_index", None))
    context = None
    if getattr(args, "cameras", None):
        from viewer.formats.context_files import load_context

        context = load_context(args.cameras)
    if args.scene is not None and not Path(args.scene).exists():  # before the display: it is
        raise SceneError(args.scene, "no such file")  # what to fix first
    try:
        init_glfw()
    except NoDisplayError as exc:
        print(
            f"splatscope: error: no display to open a window on ({exc}); render images with "
            "`splatscope render` or measure frame times with `splatscope bench`",
            file=sys.stderr,
        )
        return EXIT_NO_DISPLAY
    try:
        if getattr(args, "network_gui", None):
            return _run_network_gui(args, settings, camera)
        _say_when_big(args.scene)
        scene = load_scene_or_builtin(args.scene, getattr(args, "lod_level", None))
        if context is not None:
            scene = context.applied(scene)
        window = Window(args.width, args.height, "splatscope", vsync=not args.no_vsync)
        from viewer.app.app import ViewerApp

        display = DisplayOptions(vsync=not args.no_vsync, redraw=args.no_vsync)
        app = ViewerApp(
            window,
            scene,
            _streamed_or_whole,
            settings.replaced(display),
            camera=camera,
            up=getattr(args, "up", "auto"),
        )
        app.run()
    finally:
        glfw.terminate()
    return 0


def _run_network_gui(args: argparse.Namespace, settings: SettingsSet, camera: Camera | None) -> int:
    """The window on the trainer at `args.network_gui` (host, port), until closed."""
    from viewer.app.network_gui_app import NetworkGuiApp

    window = Window(args.width, args.height, "splatscope", vsync=not args.no_vsync)
    display = DisplayOptions(vsync=not args.no_vsync, redraw=args.no_vsync)
    app = NetworkGuiApp(
        window, args.network_gui, settings.replaced(display), camera=camera, up=args.up
    )
    app.run()
    return 0


def _say_when_big(path: str | None) -> None:
    """A line on stderr before a large scene file is read (the window opens after it)."""
    if path and Path(path).is_file() and Path(path).stat().st_size >= BIG_FILE_BYTES:
        size = Path(path).stat().st_size / 2**20
        print(f"splatscope: loading {path} ({size:,.0f} MiB) ...", file=sys.stderr, flush=True)


def _streamed_or_whole(path: str) -> GaussianScene:
    """A scene opened in the window: a streamed SOG is streamed, the others read whole."""
    from viewer.builtin_scene import load_scene_or_builtin

    return load_scene_or_builtin(path, None)
