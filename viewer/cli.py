"""The `splatscope` command: view, render, bench, info, convert, prune, train, make-dataset.

Bad input (files, flags, cameras) ends with one line on stderr naming the file or flag and the
problem, and exit code 2, with no traceback and nothing written:
- argument errors are one line too (no usage block; `--help` shows it);
- inputs and outputs are checked before any work: output folders and formats, an output that is
  an input under another name (hard or symbolic link), camera files, the GL device's image size;
- warnings raised while a command reads its inputs are held back until they are all read and
  checked, so a command that fails on bad input prints its one error line only;
- every file is written atomically (viewer.atomic_write): a failed write leaves the old file.
Output cut short by its reader (`splatscope info scene.ply | head -3`) ends quietly with exit
code 141, as a tool killed by SIGPIPE reports.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from viewer.bench.cli import add_bench_arguments, writable_folder
from viewer.builtin_scene import load_scene_or_builtin
from viewer.camera import MAX_IMAGE_SIDE, Camera
from viewer.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, SceneError, quoted, visible
from viewer.features.presets import PRESETS, preset_of
from viewer.framing import UP_CHOICES
from viewer.input_files import (
    OutputIsInputError,
    check_no_inputs_under,
    check_not_input,
    remember_inputs,
)
from viewer.netgui.protocol import parse_address
from viewer.path_cameras import PATH_KINDS
from viewer.progress import Progress
from viewer.setting_specs import (
    add_arguments,
    from_arguments,
    integer_type,
    number_type,
    setting_type,
)
from viewer.settings import (
    FoveationSettings,
    LodSettings,
    PruneSettings,
    RasterSettings,
    RenderSettings,
)
from viewer.temp_files import Terminated, termination_signals_interrupt

if TYPE_CHECKING:
    from viewer.render.context import DeviceInfo
    from viewer.scene import GaussianScene

EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE: what a tool killed by a closed pipe reports
# viewer.formats.WRITABLE_SUFFIXES ('meta.json': a name ending, an unbundled SOG)
WRITABLE_SCENES = ".ply, .compressed.ply, .splat, .spz, .sog, meta.json, .glb"
SPZ_VERSIONS = (3, 4)  # viewer.formats.spz_write.WRITABLE_VERSIONS; 4 is the default
DEFAULT_SIZE = (1280, 720)  # of a rendered framing when no camera gives one
DEFAULT_FRAMES = 120  # of a rendered orbit, spiral or cameras path
DEFAULT_FPS = 30.0
MAX_FRAMES = 1_000_000


class UsageError(Exception):
    """A bad command line; its message is the one line printed after `splatscope: error:`."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports errors as one line (UsageError) instead of usage + exit.

    Long options must be spelled out (no abbreviations). Subcommand parsers made by
    `add_subparsers` are of this class too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)  # --out is not --outline
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Raise UsageError with argparse's message and where to read the usage."""
        raise UsageError(f"{message} (see {self.prog} --help)")


def _version() -> str:
    """The installed package's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("splatscope")
    except PackageNotFoundError:
        return "(version unknown: not installed)"


# -- the parser ----------------------------------------------------------------------------------


def _scene_arg(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    parser.add_argument(
        "scene",
        nargs="?" if optional else None,
        help="scene file (.ply, compressed .ply, .splat, .spz, .sog, meta.json, .glb, .gltf, "
        "a streamed SOG's lod-meta.json) or INRIA output folder"
        + (" (default: the built-in scene)" if optional else ""),
    )


STREAMED = (
    "the scene is streamed: chunks are read as the camera needs them, under "
    "--stream.gpu-budget-mb and --stream.host-budget-mb"
)


def _lod_level_arg(parser: argparse.ArgumentParser, without: str = "") -> None:
    """--lod-level: which level of a streamed SOG (lod-meta.json) to read whole.

    `without`: what the command does with a streamed SOG when the flag is not given (its
    default is then None); empty: it reads level 0 whole.
    """
    parser.add_argument(
        "--lod-level",
        type=integer_type(0),
        default=None if without else 0,
        metavar="N",
        help="a streamed SOG (lod-meta.json) is read whole at this LOD level (0 is the finest); "
        + (f"without it {without}" if without else "0 by default"),
    )


def _camera_args(parser: argparse.ArgumentParser, what: str) -> None:
    """--camera and --camera-index."""
    parser.add_argument(
        "--camera",
        metavar="FILE",
        help=f"{what}: a camera JSON {{width, height, fx, fy, [cx, cy], world_to_camera}}, an "
        "INRIA cameras.json or a camera path file saved by the viewer",
    )
    parser.add_argument(
        "--camera-index",
        type=int,
        metavar="N",
        help="which camera of a cameras.json, or which keyframe of a path file (default 0)",
    )


def _preset_arg(parser: argparse.ArgumentParser) -> None:
    """--preset: a preset's settings under the flags given."""
    parser.add_argument(
        "--preset", choices=tuple(PRESETS),
        help="start from a preset's LOD, foveation and pruning settings (flags given replace "
        "the preset's): balanced",
    )  # fmt: skip


def up_argument(parser: argparse.ArgumentParser) -> None:
    """--up: the world's up axis, guessed or given."""
    parser.add_argument(
        "--up",
        choices=UP_CHOICES,
        default="auto",
        help="world up axis of the default view: guessed from the scene's cameras or geometry "
        "(auto, the default) or one of the six axis directions",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = ArgumentParser(
        prog="splatscope",
        description="Real-time viewer, renderer and benchmark for 3D Gaussian Splatting scenes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command")
    pixels = integer_type(1, MAX_IMAGE_SIDE)

    view = commands.add_parser("view", help="open the scene in a window (the default command)")
    _scene_arg(view, optional=True)
    _lod_level_arg(view, STREAMED)
    view.add_argument("--width", type=pixels, default=1280, help="window width in pixels")
    view.add_argument("--height", type=pixels, default=720, help="window height in pixels")
    view.add_argument("--no-vsync", action="store_true", help="render as fast as possible")
    view.add_argument(
        "--network-gui", type=_address, metavar="HOST:PORT",
        help="show the images of a training script that serves the original 3DGS network GUI "
        "(its --ip and --port); the camera controls drive its camera (no scene is given)",
    )  # fmt: skip
    _camera_args(view, "the view the window opens at (and returns to on R)")
    view.add_argument(
        "--cameras",
        metavar="PATH",
        help="training cameras (frustums) and SfM points to show instead of the scene's own: an "
        "INRIA cameras.json, a transforms.json, a COLMAP model (sparse/0 or one of its files), "
        "a dataset folder (COLMAP, NeRF-synthetic) or an INRIA training output folder",
    )
    view.add_argument(
        "--token", default="",
        help="with a tcp://HOST:PORT scene (a training served by `train --serve` or "
        "live.attach(serve=...)): the token it printed",
    )  # fmt: skip
    up_argument(view)
    _preset_arg(view)
    add_arguments(view, "view")

    render = commands.add_parser(
        "render", help="render one image, or a camera path as a video, headless (EGL, no display)"
    )
    _scene_arg(render, optional=True)
    _lod_level_arg(render, STREAMED)
    _camera_args(render, "the view to render (default: the scene's first camera or a framing)")
    render.add_argument(
        "--out", metavar="FILE.png",
        help="output PNG; with --path a .mp4 video (H.264) or a FOLDER/ of numbered PNG frames",
    )  # fmt: skip
    render.add_argument(
        "--out-npy",
        metavar="FILE.npy",
        help="output float32 [H, W, 3] RGB .npy (display-referred, as the PNG)",
    )
    render.add_argument(
        "--width", type=pixels, help="image width (keeps the vertical field of view)"
    )
    render.add_argument("--height", type=pixels, help="image height")
    up_argument(render)
    render.add_argument(
        "--path", metavar="{" + ",".join(PATH_KINDS) + "} or FILE",
        help="render a camera path instead of one view (--out video.mp4 or FOLDER/): an orbit or "
        "a spiral around the scene (as the bench's, --up applies), the scene's cameras.json "
        "views, or a camera path file saved by the viewer",
    )  # fmt: skip
    render.add_argument(
        "--frames", type=integer_type(1, MAX_FRAMES), metavar="N",
        help=f"--path: frames along the path, evenly spaced (default {DEFAULT_FRAMES}; for a path "
        "file: its duration at --fps)",
    )  # fmt: skip
    render.add_argument(
        "--fps", type=number_type(0.01, 1000.0), metavar="FPS",
        help=f"--path: frame rate of the video, and the rate a path file is played at when "
        f"--frames is not given (default {DEFAULT_FPS:g})",
    )  # fmt: skip
    _preset_arg(render)
    add_arguments(render, "render")

    info = commands.add_parser("info", help="print what a scene file holds")
    _scene_arg(info, optional=True)
    _lod_level_arg(info, "its index is described, with every leaf at its coarsest level")

    prune = commands.add_parser(
        "prune", help="write the scene without its least important Gaussians (by a score)"
    )
    _scene_arg(prune, optional=True)
    prune.add_argument(
        "--out", required=True, metavar="FILE", help=f"scene file to write ({WRITABLE_SCENES})"
    )
    prune.add_argument(
        "--near-plane", type=setting_type(RenderSettings, "near_plane"),
        default=RenderSettings().near_plane,
        help="near plane of the views the view scores are measured from",
    )  # fmt: skip
    add_arguments(prune, "prune")

    convert = commands.add_parser(
        "convert",
        help=f"convert between scene formats (writes {WRITABLE_SCENES}, and lod-meta.json: a "
        "streamed SOG from the LOD tree)",
    )
    convert.add_argument("input", help="scene to read (any readable format or an INRIA folder)")
    convert.add_argument(
        "output",
        help=f"file to write; its name picks the format ({WRITABLE_SCENES}, or lod-meta.json: "
        "a streamed SOG, its folder written whole)",
    )
    _lod_level_arg(convert)
    convert.add_argument(
        "--memory-budget",
        type=integer_type(64),
        metavar="MB",
        help="lod-meta.json from an INRIA .ply only: read the .ply in pieces and build the "
        "chunks within about this much memory (plus 24 bytes per Gaussian), for scenes "
        "larger than memory",
    )
    convert.add_argument(
        "--spz-version",
        type=int,
        choices=SPZ_VERSIONS,
        help=".spz only: 4 (zstd, the default) or 3 (gzip, for older tools)",
    )

    bench = commands.add_parser("bench", help="benchmark frame times along a camera path")
    _scene_arg(bench, optional=True)
    add_bench_arguments(bench)

    train = commands.add_parser(
        "train", help="train Gaussians on a dataset (COLMAP or NeRF-synthetic folder)"
    )
    train.add_argument(
        "data", help="dataset folder: images/ + sparse/0 (COLMAP) or transforms_*.json"
    )
    train.add_argument(
        "--out", required=True, metavar="DIR",
        help="output folder (INRIA layout: point_cloud/iteration_N, cameras.json); new or empty",
    )  # fmt: skip
    train.add_argument(
        "--view", action="store_true",
        help="watch the model learn in a window (its panel pauses, steps and steers training)",
    )  # fmt: skip
    train.add_argument(
        "--serve", metavar="[HOST:]PORT",
        help="serve the live view on the network instead of a window, for `splatscope view "
        "tcp://HOST:PORT` here or on another machine (HOST: 127.0.0.1 unless named; off "
        "loopback a token is required)",
    )  # fmt: skip
    train.add_argument(
        "--token", help="--serve: the token viewers must give (default: a random one, printed, "
        "when HOST is not loopback)",
    )  # fmt: skip
    train.add_argument("--resume", metavar="CHKPNT.pth", help="continue from a checkpoint")
    train.add_argument(
        "--nproc", type=integer_type(1, 4096), default=1, metavar="N",
        help="train data parallel in N processes here (torch's launcher; gloo on CPU, NCCL on "
        "CUDA, a GPU each); --train.batch images per step are shared among them. For several "
        "nodes run `torchrun ... -m viewer train` without --nproc",
    )  # fmt: skip
    train.add_argument(
        "--check-every", type=integer_type(0), default=0, metavar="K",
        help="debug: every K steps compare a hash of the Gaussians over the processes and stop "
        "when they differ (0: never)",
    )  # fmt: skip
    train.add_argument("--width", type=pixels, default=1280, help="--view window width")
    train.add_argument("--height", type=pixels, default=720, help="--view window height")
    add_arguments(train, "train")

    make = commands.add_parser(
        "make-dataset",
        help="render a NeRF-synthetic-style dataset (images + transforms) of a scene",
    )
    _scene_arg(make, optional=True)
    make.add_argument("--views", type=integer_type(1, 100_000), required=True,
                      help="training views")  # fmt: skip
    make.add_argument(
        "--test-views", type=integer_type(0, 100_000), metavar="N",
        help="held-out views (default: views / 8, at least 1)",
    )  # fmt: skip
    make.add_argument("--width", type=pixels, required=True, help="image width")
    make.add_argument("--height", type=pixels, required=True, help="image height")
    make.add_argument("--out", required=True, metavar="DIR", help="dataset folder to create")
    make.add_argument(
        "--points", type=integer_type(0, 100_000_000), default=10_000,
        help="Gaussian centres written to points3d.ply to start training from (0: none)",
    )  # fmt: skip
    make.add_argument("--seed", type=integer_type(0), default=0, help="points subsample seed")
    make.add_argument(
        "--renderer", choices=("auto", "gpu", "reference"), default="auto",
        help="GPU pipeline (EGL), the torch reference renderer, or the GPU where it opens",
    )  # fmt: skip
    up_argument(make)
    return parser


# -- checks before any work ----------------------------------------------------------------------


def check_not_an_input(path: str | Path, label: str) -> None:
    """Raise SceneError naming `label` when the output `path` is an input of the command."""
    try:
        check_not_input(path)
    except OutputIsInputError as exc:
        raise SceneError(label, exc.problem) from None


def _same_file(a: str, b: str) -> bool:
    """Whether two existing paths name one file (links included)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output_file(path: str, flag: str, kind: str) -> None:
    """Check, before any work, that `path` (given as `flag`) can be written as a `kind` file.

    Args:
        path: the output file.
        flag: how the user gave it (`--out`, `output`), for the message.
        kind: "scene" (a format viewer.formats.output_format knows) or a suffix (".png").

    Raises:
        SceneError: naming the flag and file, for an unknown format, a folder or special file
            in its place, a missing or unwritable folder, or an output that is an input.
    """
    label = f"{flag} {quoted(path)}"
    target = Path(path)
    if kind == "scene":
        from viewer.formats import output_format

        if output_format(target) is None:
            suffix = target.suffix or "(no suffix)"
            raise SceneError(label, f"cannot write '{suffix}' files (writable: {WRITABLE_SCENES})")
    elif not target.name.lower().endswith(kind) or target.name.lower() == kind:
        raise SceneError(label, f"the file name must end in {kind}")
    real = Path(os.path.realpath(target))  # a symlink's target is what gets replaced
    if str(path).endswith(("/", os.sep)) or real.is_dir():
        raise SceneError(label, "is a folder, expected a file name")
    if real.exists() and not real.is_file():
        raise SceneError(label, "exists and is not a regular file; refusing to replace it")
    writable_folder(real.parent, label)
    check_not_an_input(target, label)


def _check_camera_index(args: argparse.Namespace) -> None:
    """--camera-index picks within --camera's file; alone it would be silently ignored."""
    if args.camera_index is not None and not args.camera:
        raise UsageError(
            "--camera-index needs --camera (an INRIA cameras.json or a camera path file)"
        )


class _WarningLines:
    """Warnings as 'splatscope: warning: ...' lines, held back until `release`.

    `release` comes once the command's inputs are all read and checked; from then on, warnings
    are printed as they come.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.held: list[str] | None = []

    def show(self, message: Warning | str, *_: Any, **__: Any) -> None:
        """warnings.showwarning replacement."""
        line = visible(f"splatscope: warning: {message}")
        if self.held is None:
            print(line, file=self.stream, flush=True)
        else:
            self.held.append(line)

    def release(self) -> None:
        """Print the held warnings; print later ones at once."""
        held, self.held = self.held or [], None
        for line in held:
            print(line, file=self.stream, flush=True)


_warning_lines: _WarningLines | None = None  # the running command's (set by `main`)


def inputs_ready() -> None:
    """Print the warnings held back so far; a command calls this once its inputs are checked.

    It comes before the command's work; on failure before this, only the error line is printed.
    """
    if _warning_lines is not None:
        _warning_lines.release()


# -- the commands --------------------------------------------------------------------------------


def _resized(camera: Camera, width: int | None, height: int | None) -> Camera:
    """`camera` at --width/--height (a missing one keeps the aspect), or as it is."""
    if height is None:
        if width is None:
            return camera
        height = max(1, round(camera.height * width / camera.width))
    elif width is None:
        width = max(1, round(camera.width * height / camera.height))
    try:
        return camera.resized(width, height)
    except ValueError as exc:
        raise SceneError("--width/--height", str(exc)) from None


def _run_render(args: argparse.Namespace) -> int:
    from viewer.features.foveation import check_source
    from viewer.formats.camera_files import load_camera_file
    from viewer.formats.inria_output import scene_file
    from viewer.formats.limits import planned_use
    from viewer.framing import default_camera
    from viewer.headless import render_scene
    from viewer.image_files import save_npy, save_png
    from viewer.render.budget import check_device, draws_on_host, render_use
    from viewer.render.context import ImageSizeError

    if args.path is not None:
        return _run_render_path(args)
    for flag, value in (("--frames", args.frames), ("--fps", args.fps)):
        if value is not None:
            raise UsageError(f"{flag} needs --path (a camera path to render)")
    if not (args.out or args.out_npy):
        raise UsageError("render needs --out FILE.png and/or --out-npy FILE.npy")
    _check_camera_index(args)
    remember_inputs(scene_file(args.scene), args.camera)
    if args.out:
        check_output_file(args.out, "--out", ".png")
    if args.out_npy:
        check_output_file(args.out_npy, "--out-npy", ".npy")
        if args.out and _same_file(args.out, args.out_npy):
            raise SceneError(f"--out-npy {quoted(args.out_npy)}", "is --out too")
    settings = from_arguments(args, "render", preset_of(args))
    try:
        check_source(settings.of(FoveationSettings), settings.of(LodSettings))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _note_outline(settings.of(FoveationSettings))
    _note_target_fps(settings.of(LodSettings))
    render = settings.of(RenderSettings)
    camera = load_camera_file(args.camera, args.camera_index) if args.camera else None
    sized = args.width is not None or args.height is not None
    if camera is not None:
        camera = _resized(camera, args.width, args.height)
    # the image's size, where it is known before the scene is read (else checked after)
    width, height = (camera.width, camera.height) if camera else (args.width, args.height)
    label = "--width/--height" if sized or camera is None else args.camera
    device = check_device(width, height, label)
    host = draws_on_host(settings, device)
    with planned_use(render_use(device, width or 0, height or 0, host=host)):
        scene = load_scene_or_builtin(args.scene, args.lod_level)
    _note_sh_degree(args, scene)
    if camera is None:
        camera = default_camera(scene, *DEFAULT_SIZE, args.up, render.near_plane)
        framed = args.up != "auto" or not scene.cameras
        if sized and framed:  # frame again at the final aspect
            size = _resized(camera, args.width, args.height)
            camera = default_camera(scene, size.width, size.height, args.up, render.near_plane)
        camera = _resized(camera, args.width, args.height)
    inputs_ready()
    try:
        image = render_scene(
            scene,
            camera,
            render,
            settings.of(RasterSettings),
            settings.of(LodSettings),
            settings.of(FoveationSettings),
            settings.of(PruneSettings),
        )
    except ImageSizeError as exc:
        source = "--width/--height" if sized else args.camera or scene.source
        raise SceneError(source, str(exc)) from None
    if args.out:
        save_png(image, args.out)
    if args.out_npy:
        save_npy(image, args.out_npy)
    from viewer.scene_info import scene_gaussians

    streamed = " (streamed)" if scene.streamed else ""
    pixels = f"{camera.width}x{camera.height}"
    print(f"rendered {scene_gaussians(scene)} Gaussians{streamed} at {pixels} with the "
          f"{_backend_named(settings.of(RasterSettings).backend, device)}")  # fmt: skip
    return 0


def _backend_named(kind: str, device: DeviceInfo) -> str:
    """'cpu backend (auto: software GL, llvmpipe)', or 'quads backend' where it was asked for."""
    from viewer.render.raster import backend_reason, choose_backend

    why = f" ({backend_reason(kind, device)})" if kind == "auto" else ""
    return f"{choose_backend(kind, device)} backend{why}"


def _path_size(args: argparse.Namespace, base: tuple[int, int], even: bool) -> tuple[int, int]:
    """The image size of a rendered path: --width/--height, a missing one keeping `base`'s aspect.

    `even`: a side not given is rounded to an even number (H.264's yuv420p needs it); one given
    odd is refused.

    Raises:
        SceneError: naming --width/--height, for an odd side given for a video.
    """
    width, height = args.width, args.height
    if width is None and height is None:
        width, height = base
    elif width is None:
        width = max(1, round(base[0] * height / base[1]))
    elif height is None:
        height = max(1, round(base[1] * width / base[0]))
    if even:
        from viewer.video import odd_side

        if args.width is None:
            width = max(2, 2 * round(width / 2))
        if args.height is None:
            height = max(2, 2 * round(height / 2))
        problem = odd_side(width, height)  # a side given odd
        if problem is not None:
            raise SceneError("--width/--height", problem)
    return width, height


def _note_outline(fov: FoveationSettings) -> None:
    """Warn (one line) that `render` leaves out the level borders the window draws."""
    if fov.enabled and fov.outline:
        warnings.warn(
            "--fov.outline has no effect in render: the level borders are drawn over the "
            "window's view only, not into images",
            stacklevel=2,
        )


def _note_target_fps(lod: LodSettings) -> None:
    """Warn (one line) that `render` draws one image at full detail whatever the target."""
    if lod.enabled and lod.cut == "target_fps":
        warnings.warn(
            f"--lod.target-fps {lod.target_fps:g} has no effect in render: one image is drawn at "
            "full detail (the window and the bench hold a frame rate)",
            stacklevel=2,
        )


def _note_sh_degree(args: argparse.Namespace, scene: GaussianScene) -> None:
    """Warn (one line) when --sh-degree asks for more than the scene holds: it changes nothing."""
    degree = getattr(args, "render.sh_degree", None)  # None: not given
    if degree is not None and degree > scene.sh_degree:
        warnings.warn(
            f"--sh-degree {degree} has no effect: {quoted(scene.source)} has SH degree "
            f"{scene.sh_degree}, so it renders at degree {scene.sh_degree}",
            stacklevel=2,
        )


def _run_render_path(args: argparse.Namespace) -> int:
    """`render --path`: the frames of a camera path through one context, to a video or folder.

    Everything is checked before the first frame: the flags, the output's name and folder, the
    path file, the scene, the image size (the encoder's and the GL device's).
    """
    from viewer.atomic_write import atomic_folder
    from viewer.bench.cli import check_output_folder, missing_cameras
    from viewer.features.foveation import check_source
    from viewer.formats.inria_output import scene_file
    from viewer.formats.limits import planned_use
    from viewer.headless import HeadlessRenderer
    from viewer.image_files import save_png
    from viewer.path_cameras import camera_path, load_path_file, played, played_frames, sampled
    from viewer.render.budget import check_device, draws_on_host, render_use
    from viewer.render.context import ImageSizeError
    from viewer.video import (
        VIDEO_SUFFIX,
        check_frames_folder,
        check_video,
        frame_name,
        is_folder_output,
        video_output,
    )

    for flag, given in (
        ("--camera", args.camera), ("--camera-index", args.camera_index),
        ("--out-npy", args.out_npy),
    ):  # fmt: skip
        if given is not None:
            raise UsageError(f"{flag} and --path: a path renders its own cameras (--out only)")
    if not args.out:
        raise UsageError(f"render --path needs --out VIDEO{VIDEO_SUFFIX} or --out FOLDER/")
    is_file = args.path not in PATH_KINDS
    remember_inputs(scene_file(args.scene), args.path if is_file else None)
    folder = is_folder_output(args.out)
    label = f"--out {quoted(args.out)}"
    if folder:
        check_output_folder(args.out, "--out")
        if os.path.isdir(args.out):
            check_frames_folder(Path(args.out), label)
    elif Path(args.out).suffix.lower() != VIDEO_SUFFIX:
        raise SceneError(
            label,
            f"with --path the output is a {VIDEO_SUFFIX} video (H.264) or a folder of PNG frames "
            "(a name ending in /)",
        )
    else:
        check_output_file(args.out, "--out", VIDEO_SUFFIX)
    recorded = load_path_file(args.path) if is_file else None
    fps = DEFAULT_FPS if args.fps is None else args.fps
    settings = from_arguments(args, "render", preset_of(args))
    try:
        check_source(settings.of(FoveationSettings), settings.of(LodSettings))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _note_outline(settings.of(FoveationSettings))
    device = check_device(None, None, "render")  # the frames' size follows the path: later
    with planned_use(render_use(device, host=draws_on_host(settings, device))):
        scene = load_scene_or_builtin(args.scene)
    _note_sh_degree(args, scene)
    if args.path == "cameras" and not scene.cameras:
        missing_cameras(args.scene)
    if recorded is not None:
        first = recorded.keyframes[0].camera
        base = (first.width, first.height)
    elif args.path == "cameras" and scene.cameras:
        base = (scene.cameras[0].width, scene.cameras[0].height)
    else:
        base = DEFAULT_SIZE
    width, height = _path_size(args, base, even=not folder)
    if not folder:
        try:
            check_video(width, height, fps)
        except ValueError as exc:
            raise SceneError("--width/--height", str(exc)) from None
    if recorded is None:
        frames = DEFAULT_FRAMES if args.frames is None else args.frames
        cameras = camera_path(args.path, scene, width, height, frames, up=args.up)
    elif args.frames is not None:
        cameras = sampled(recorded, width, height, args.frames)
    else:
        count = played_frames(recorded, fps)
        if count > MAX_FRAMES:
            raise SceneError(
                args.path,
                f"played at {fps:g} fps its {recorded.duration:g} s make {count:,} frames, above "
                f"{MAX_FRAMES:,}; give --frames or a lower --fps",
            )
        cameras = played(recorded, width, height, fps)
    inputs_ready()
    try:
        renderer = HeadlessRenderer(
            scene,
            (width, height),
            settings.of(RenderSettings),
            settings.of(RasterSettings),
            settings.of(LodSettings),
            settings.of(FoveationSettings),
            settings.of(PruneSettings),
        )
    except ImageSizeError as exc:
        raise SceneError("--width/--height", str(exc)) from None
    progress = Progress("rendering", total=len(cameras), unit="frames")
    with renderer:
        if folder:
            with atomic_folder(args.out, lambda old: check_frames_folder(old, label)) as out:
                for i, camera in enumerate(cameras):
                    save_png(renderer.render(camera), out / frame_name(i, len(cameras)))
                    progress(i + 1, len(cameras))
        else:
            with video_output(args.out, width, height, fps) as write:
                for i, camera in enumerate(cameras):
                    write(renderer.render(camera))
                    progress(i + 1, len(cameras))
    what = "PNG frames" if folder else f"frames ({len(cameras) / fps:.2f} s at {fps:g} fps)"
    print(
        f"rendered {len(cameras)} {what} of {scene.count:,} Gaussians at {width}x{height}; "
        f"wrote {quoted(args.out)}"
    )
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from viewer.scene_info import describe

    if sys.__stdout__ is None:
        raise UsageError("standard output is closed: info has nowhere to print the description")
    scene = load_scene_or_builtin(args.scene, args.lod_level)
    inputs_ready()
    print(describe(scene))
    return 0


def _print_losses(lines: list[str], output: str) -> None:
    """What the output format loses, as notes on stderr (not errors)."""
    if not lines:
        return
    print(f"splatscope: note: {quoted(output)} does not keep everything:", file=sys.stderr)
    for line in lines:
        print(f"splatscope: note:   - {line}", file=sys.stderr)
    sys.stderr.flush()


def _run_convert(args: argparse.Namespace) -> int:
    from viewer.formats import (
        DEFAULT_SPZ_VERSION,
        describe_losses,
        load_scene,
        output_format,
        save_scene,
    )
    from viewer.formats.inria_output import scene_file
    from viewer.formats.sog_meta import LOD_META_NAME

    remember_inputs(scene_file(args.input))
    streamed = output_format(Path(args.output)) == LOD_META_NAME
    if streamed:
        _check_streamed_output(args.output)
    else:
        check_output_file(args.output, "output", "scene")
    version = DEFAULT_SPZ_VERSION if args.spz_version is None else args.spz_version
    if args.spz_version is not None and output_format(Path(args.output)) != ".spz":
        warnings.warn(
            f"--spz-version {args.spz_version} has no effect: {quoted(args.output)} is not an "
            ".spz file (the name picks the format)",
            stacklevel=2,
        )
    if args.memory_budget is not None:
        if not streamed:
            raise UsageError("--memory-budget is for a streamed SOG output (lod-meta.json)")
        return _convert_in_pieces(scene_file(args.input), Path(args.output), args.memory_budget)
    scene = load_scene(args.input, lod_level=args.lod_level)
    losses = describe_losses(scene, args.output, spz_version=version)
    inputs_ready()
    _print_losses(losses, args.output)
    if streamed:
        from viewer.features.lod_stream_write import SceneRows, write_streamed_sog

        counts = write_streamed_sog(SceneRows(scene), Path(args.output))
        _print_streamed(counts, args.output)
        return 0
    save_scene(scene, args.output, spz_version=version)
    print(f"wrote {scene.count} Gaussians to {quoted(args.output)}")
    return 0


def _print_streamed(counts: list[int], output: str) -> None:
    levels = ", ".join(f"{count:,}" for count in counts)
    print(f"wrote {counts[0]} Gaussians to {quoted(output)} (per level: {levels})")


def _convert_in_pieces(source: Path | None, output: Path, budget_mb: int) -> int:
    """Convert an INRIA .ply to a streamed SOG, the .ply read in pieces (--memory-budget)."""
    from viewer.features.lod_spill import SpilledRows, budget_layout
    from viewer.features.lod_stream_write import write_streamed_sog
    from viewer.formats.ply_pieces import PlyPieces

    if source is None or source.suffix.lower() != ".ply":
        raise UsageError("--memory-budget reads an INRIA 3DGS .ply in pieces: give one as input")
    piece_bytes, layout = budget_layout(budget_mb * 2**20)
    rows = SpilledRows(PlyPieces(source, piece_bytes))
    inputs_ready()
    _print_streamed(write_streamed_sog(rows, output, layout), str(output))
    return 0


def _check_streamed_output(output: str) -> None:
    """Before any work: a streamed SOG's folder can be made or replaced, and holds no input."""
    from viewer.bench.cli import check_output_folder
    from viewer.features.lod_stream_write import check_replaceable

    folder = Path(output).parent
    label = f"output {quoted(output)}"
    check_output_folder(folder, "output")
    check_replaceable(folder)
    try:
        check_no_inputs_under(folder)
    except OutputIsInputError as exc:
        raise SceneError(label, exc.problem) from None


def _run_prune(args: argparse.Namespace) -> int:
    from viewer.features.pruning import keep_mask
    from viewer.features.score_cache import cached_scores
    from viewer.formats import describe_losses, save_scene
    from viewer.formats.inria_output import scene_file
    from viewer.formats.limits import planned_use
    from viewer.render.budget import check_device, render_use
    from viewer.render.context import create_headless_context
    from viewer.render.gpu_scene import GpuScene
    from viewer.render.renderer import SplatRenderer

    settings = from_arguments(args, "prune").of(PruneSettings)
    by_share = settings.threshold <= 0.0
    if by_share and settings.keep <= 0.0:
        raise UsageError("--keep 0 keeps no Gaussian: nothing would be written")
    remember_inputs(scene_file(args.scene))
    check_output_file(args.out, "--out", "scene")
    device = check_device(None, None, "prune")  # the views' size follows their cameras
    with planned_use(render_use(device)):
        scene = load_scene_or_builtin(args.scene)
    if by_share and round(settings.keep * scene.count) == 0:
        raise UsageError(
            f"--keep {settings.keep:g} of {scene.count:,} Gaussians keeps none: nothing would be "
            "written"
        )
    losses = describe_losses(scene, args.out)
    inputs_ready()
    ctx = create_headless_context()
    renderer = SplatRenderer(ctx)
    gpu_scene = GpuScene.from_scene(ctx, scene, renderer.device)
    try:
        near = args.near_plane
        scoring = Progress("scoring views", unit="views")
        scores = cached_scores(renderer, gpu_scene, scene, settings, near, scoring)
    finally:
        gpu_scene.release()
        renderer.release()
        ctx.release()
    keep = keep_mask(scores[settings.score], settings)
    kept = int(keep.sum())
    if kept == 0:
        raise SceneError(args.out, f"nothing left to write: no Gaussian kept by {settings.score}")
    _print_losses(losses, args.out)
    save_scene(scene.subset(keep), args.out)
    print(
        f"kept {kept:,} of {scene.count:,} Gaussians ({100 * kept / scene.count:.1f} %) by "
        f"{settings.score}; wrote {quoted(args.out)}"
    )
    return 0


def _address(text: str) -> tuple[str, int]:
    """An argparse type: HOST:PORT."""
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_view(args: argparse.Namespace) -> int:
    from viewer.app.main import run_viewer

    if args.scene is not None and args.scene.startswith("tcp://"):
        from viewer.app.live_app import run_remote_window

        inputs_ready()
        return run_remote_window(args.scene, args.token, args.width, args.height)
    if args.token:
        raise UsageError("--token is for watching a training: splatscope view tcp://HOST:PORT")
    _check_camera_index(args)
    if args.network_gui and (args.scene or args.cameras):
        raise UsageError("--network-gui shows a trainer's images: give no scene or --cameras")
    inputs_ready()  # the window runs long: warnings of the scene's load show as they come
    return run_viewer(args)


def _run_bench(args: argparse.Namespace) -> int:
    from viewer.bench.cli import run_bench

    return run_bench(args, inputs_ready)


def _run_train(args: argparse.Namespace) -> int:
    from viewer.train.run import run_train

    return run_train(args, inputs_ready)


def _run_make_dataset(args: argparse.Namespace) -> int:
    from viewer.train.run import run_make_dataset

    return run_make_dataset(args, inputs_ready)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "view": _run_view,
    "render": _run_render,
    "info": _run_info,
    "convert": _run_convert,
    "prune": _run_prune,
    "bench": _run_bench,
    "train": _run_train,
    "make-dataset": _run_make_dataset,
}


def _attach_signed_axes(argv: list[str]) -> list[str]:
    """`--up -Y` as `--up=-Y`: argparse takes a value starting with '-' for an option."""
    out: list[str] = []
    for word in argv:
        if out and out[-1] == "--up" and word in UP_CHOICES:
            out[-1] = f"--up={word}"
        else:
            out.append(word)
    return out


def _hyphenated_flags(argv: list[str]) -> list[str]:
    """`--fov.periphery_scale` as `--fov.periphery-scale`: settings keys are spelt with `_`.

    Bench configurations and presets name settings as `group.key_name`, so a flag written that
    way is taken too. Only a flag's name changes (not a value after `=`), nothing after `--`.
    """
    out: list[str] = []
    for i, word in enumerate(argv):
        if word == "--":
            return out + argv[i:]
        name, equals, value = word.partition("=")
        if name.startswith("--") and "_" in name:
            word = name.replace("_", "-") + equals + value
        out.append(word)
    return out


def _check_scene_word(word: str) -> None:
    """Refuse a first word that is no command and cannot be a scene for `view` either.

    `splatscope SCENE` views SCENE, so a mistyped command would otherwise be read as a scene.
    A word that exists, or looks like a file name (a suffix, a folder part), stays a scene.
    """
    if word.startswith("-") or os.path.lexists(word) or Path(word).suffix or os.sep in word:
        return
    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"commands: {', '.join(COMMANDS)}"
    raise UsageError(f"unknown command {word!r}, and no such file ({hint})")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The parsed command line; `view` is the command when none is named.

    Raises:
        UsageError: for any bad argument or setting value, as one line.
    """
    argv = _attach_signed_axes(_hyphenated_flags(list(argv)))
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
        if argv:
            _check_scene_word(argv[0])
        argv = ["view", *argv]
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            where = f"splatscope {args.command}" if args.command else "splatscope"
            raise UsageError(f"unrecognized arguments: {' '.join(extra)} (see {where} --help)")
        if args.command is None:
            raise UsageError("no command given (see splatscope --help)")
        from_arguments(args, args.command, preset_of(args))  # checked across fields too
    except ValueError as exc:  # a setting's value rejected by its description
        raise UsageError(str(exc)) from None
    return args


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `splatscope`; returns the exit code.

    0: done. 2: bad input (one line on stderr). 130: interrupted (Ctrl+C); 143 and 129: stopped
    by SIGTERM or SIGHUP, temporary files removed as on Ctrl+C. 141: the reader of stdout went
    away (`| head`), quietly, as a tool killed by SIGPIPE would.
    """
    global _warning_lines
    from viewer.render.context import GLUnavailableError

    lines = _WarningLines(sys.stderr)
    if sys.stdout is None:  # started with stdout closed: what would be printed goes nowhere
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (open for the process's life)
    try:
        with warnings.catch_warnings(), termination_signals_interrupt():
            warnings.simplefilter("default")
            warnings.showwarning = lines.show
            _warning_lines = lines
            try:
                code = _run(argv)
                lines.release()
            except (UsageError, SceneError, GLUnavailableError) as exc:
                print(visible(f"splatscope: error: {exc}"), file=sys.stderr)
                return EXIT_BAD_INPUT
            except BrokenPipeError:
                raise
            except OSError as exc:  # e.g. a disk filled up while writing: the old file is kept
                where = f"{quoted(exc.filename)}: " if exc.filename else ""
                print(visible(f"splatscope: error: {where}{exc.strerror or exc}"), file=sys.stderr)
                return EXIT_BAD_INPUT
            except Terminated as exc:  # SIGTERM, SIGHUP: cleaned up as on Ctrl+C
                return 128 + exc.signum
            except KeyboardInterrupt:
                return EXIT_INTERRUPTED
            finally:
                _warning_lines = None
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    """Parse the command line and run the command; its exit code (0 for --help, --version)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_arguments(arguments)
    except SystemExit as exc:  # --help, --version: printed, done
        return exc.code if isinstance(exc.code, int) else 0
    args.argv = arguments  # `train --nproc N` gives it to its workers
    return COMMANDS[args.command](args)
