"""The `splatscope bench` subcommand: arguments, progress line, and the run from scene to report.

The measuring modules (torch, GL) are imported only when the bench runs, not when the
`splatscope` parser is built.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from viewer.atomic_write import atomic_folder, probe_folder
from viewer.bench.configs import (
    BENCH_GROUPS,
    check_configs,
    config_keys,
    load_sweep,
    parse_config,
)
from viewer.bench.folder import FRAMES, REPORT, check_run_folder
from viewer.bench.paths import path_frames
from viewer.builtin_scene import load_scene_or_builtin
from viewer.camera import MAX_IMAGE_SIDE
from viewer.errors import SceneError, quoted
from viewer.framing import UP_CHOICES
from viewer.input_files import remember_inputs
from viewer.path_cameras import PATH_KINDS, camera_path, path_file
from viewer.progress import Progress
from viewer.render.timers import CLOCK_FINISH, CLOCK_GL_TIMER
from viewer.setting_specs import integer_type

if TYPE_CHECKING:
    from viewer.bench.runner import BenchResult

MIN_SIZE = 16  # SSIM's 11x11 window needs some room
MAX_FRAMES = 100_000  # timed frames of a run: a day at about a second a frame (llvmpipe, 720p)
MAX_WARMUP = 10_000  # untimed frames per configuration first


def writable_folder(folder: Path, label: str) -> None:
    """Raise SceneError (naming `label`) unless `folder` is an existing folder we can write in.

    Tried, not guessed from permission bits: a read-only mount, /proc or a full disk refuse a
    file there even to root.
    """
    if not folder.exists():
        raise SceneError(label, f"no such folder {quoted(folder)}")
    if not folder.is_dir():
        raise SceneError(label, f"{quoted(folder)} is not a folder")
    try:
        probe_folder(folder)
    except OSError as exc:
        problem = exc.strerror or str(exc)
        raise SceneError(
            label, f"cannot write in the folder {quoted(folder)} ({problem})"
        ) from None


def check_output_folder(path: str | Path, flag: str) -> None:
    """Check, before any work, that `path` is a folder that exists or can be created.

    The folder is written in, and a folder replaced whole is made beside it first
    (viewer.atomic_write.atomic_folder), so both must take files.

    Raises:
        SceneError: naming the flag and folder, when it is a file, or it or the nearest folder
            that exists above it cannot be written in.
    """
    label = f"{flag} {quoted(path)}"
    real = Path(os.path.realpath(path))
    if real.exists():
        if not real.is_dir():
            raise SceneError(label, "is a file, expected a folder (several files are written)")
        writable_folder(real, label)
    ancestor = real.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise SceneError(label, f"{quoted(ancestor)} is a file, so the folder cannot be made")
    writable_folder(ancestor, label)


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bench options to the `bench` subcommand's parser."""
    groups = ", ".join(group.name for group in BENCH_GROUPS)
    parser.add_argument("--out", required=True, type=Path, help="output folder (created)")
    parser.add_argument(
        "--path",
        default="orbit",
        metavar="{" + ",".join(PATH_KINDS) + "} or FILE",
        help="camera path: orbit or spiral around the scene, the scene's cameras.json views, or "
        "a path file recorded in the viewer (default: orbit)",
    )
    parser.add_argument(
        "--frames",
        type=integer_type(1, MAX_FRAMES),
        default=120,
        help=f"cameras along the path, each a timed frame (default 120, at most {MAX_FRAMES:,})",
    )
    parser.add_argument(
        "--gaze-grid",
        action="store_true",
        help="render each camera 9 times, the gaze at 1/6, 1/2 and 5/6 of the image's width and "
        "height (RTGS's measure of foveated rendering); configurations with a fixed gaze "
        "(fov.gaze=fixed) keep theirs",
    )
    parser.add_argument(
        "--warmup",
        type=integer_type(0, MAX_WARMUP),
        default=10,
        help=f"untimed frames per config first (default 10, at most {MAX_WARMUP:,}; progress "
        "shows them too)",
    )
    pixels = integer_type(MIN_SIZE, MAX_IMAGE_SIDE)
    parser.add_argument("--width", type=pixels, default=1280, help="pixels (default 1280)")
    parser.add_argument("--height", type=pixels, default=720, help="pixels (default 720)")
    parser.add_argument(
        "--up",
        choices=UP_CHOICES,
        default="auto",
        help="world up axis of the orbit and spiral paths: guessed from the scene's cameras or "
        "geometry (auto, the default) or one of the six axis directions",
    )
    parser.add_argument(
        "--config",
        action="extend",
        nargs="+",
        metavar="NAME[:key=value,...]",
        help=f"a configuration to compare (repeatable; the first is the baseline). Keys are the "
        f"{groups} settings, as group.name or the bare name where it is unambiguous: "
        f"{', '.join(config_keys())}; prune=SCORE:KEEP stands for "
        "prune.score=SCORE,prune.keep=KEEP. Default: one config of defaults",
    )
    parser.add_argument(
        "--sweep",
        action="append",
        metavar="FILE",
        help='configurations from a JSON file {"configs": {NAME: {key: value}}} (see benchmarks/); '
        "they come before any --config",
    )
    parser.add_argument(
        "--clock",
        choices=("auto", CLOCK_GL_TIMER, CLOCK_FINISH),
        default="auto",
        help="per-pass clock: GL timer queries, or glFinish + wall clock; auto picks "
        f"{CLOCK_FINISH} on software GL (default auto)",
    )
    parser.add_argument(
        "--no-quality",
        action="store_true",
        help="skip PSNR/SSIM against the full-quality render (saves a renderer and time)",
    )


def command_line(args: argparse.Namespace) -> list[str]:
    """The command that repeats this run."""
    words = ["splatscope", "bench", *([args.scene] if args.scene else [])]
    words += ["--out", str(args.out), "--path", args.path, "--frames", str(args.frames)]
    words += ["--warmup", str(args.warmup), "--width", str(args.width)]
    words += ["--height", str(args.height), "--clock", args.clock]
    words += ["--up", args.up] if args.up != "auto" else []
    words += ["--gaze-grid"] if args.gaze_grid else []
    words += [w for path in args.sweep or [] for w in ("--sweep", path)]
    words += ["--config", *args.config] if args.config else []
    return words + (["--no-quality"] if args.no_quality else [])


def missing_cameras(scene_arg: str | None) -> None:
    """For `--path cameras` on a scene that came without cameras: raise its cameras.json's error.

    Only if it has a (broken) cameras.json: the scene loaded without it, with a warning held back.
    """
    if scene_arg is None:
        return
    from viewer.formats import load_inria_cameras
    from viewer.formats.inria_output import latest_point_cloud, training_cameras

    path = Path(scene_arg)
    cameras_file = training_cameras(latest_point_cloud(path) if path.is_dir() else path)
    if cameras_file is not None:
        load_inria_cameras(cameras_file)


def remember_inputs_of(args: argparse.Namespace) -> None:
    """Count the scene, a path file and the sweep files among the inputs no output may be."""
    from viewer.formats.inria_output import scene_file

    recorded = None if args.path in PATH_KINDS else args.path
    remember_inputs(scene_file(args.scene), recorded, *(args.sweep or []))


def _plots(folder: Path, result: BenchResult, report: dict[str, Any]) -> list[str]:
    """Draw the plots into `folder`; their names (none, with a warning, without matplotlib)."""
    try:
        from viewer.bench.plots import write_plots
    except ModuleNotFoundError as exc:
        if exc.name != "matplotlib":
            raise
        print("splatscope: warning: plots skipped: matplotlib is not installed", file=sys.stderr)
        return []
    return [p.name for p in write_plots(folder, result, report)]


def run_bench(args: argparse.Namespace, ready: Callable[[], None] | None = None) -> int:
    """Run `splatscope bench`; returns the exit code.

    Everything the run needs is checked before the first frame: the configurations, the output
    folder, a path file, the GL device's limits (viewer.render.budget), the scene.

    Args:
        args: the parsed `splatscope bench` command line.
        ready: called once the inputs are read and checked, before measuring.

    Raises:
        SceneError: for a bad --config or --sweep, scene, path file or output folder, or an
            image too large.
        GLUnavailableError: when no OpenGL 4.3 context can be made.
    """
    from viewer.bench.report import BenchSetup, summary_table, write_outputs
    from viewer.bench.runner import measure
    from viewer.formats.limits import planned_use
    from viewer.render.budget import check_device, draws_on_host, render_use
    from viewer.scene_info import scene_gaussians

    try:
        configs = [c for path in args.sweep or [] for c in load_sweep(path)]
    except ValueError as exc:
        raise SceneError("--sweep", str(exc)) from None
    try:
        configs += [parse_config(text) for text in args.config or []]
    except ValueError as exc:
        raise SceneError("--config", str(exc)) from None
    try:
        configs = check_configs(configs)
    except ValueError as exc:
        raise SceneError("--config/--sweep", str(exc)) from None
    check_output_folder(args.out, "--out")
    remember_inputs_of(args)
    out_label = f"--out {quoted(args.out)}"
    if os.path.isdir(args.out):
        check_run_folder(Path(args.out), out_label)
    if args.path not in PATH_KINDS:
        path_file(args.path, args.width, args.height, 1)  # a broken file fails here, not later
    # the output, each configuration's accumulation target, the reference's two
    targets = 1 + len(configs) + (0 if args.no_quality else 2)
    device = check_device(args.width, args.height, "--width/--height", targets)
    renderers = len(configs) + (0 if args.no_quality else 1)
    host = all(draws_on_host(config.settings, device) for config in configs)
    use = render_use(
        device, args.width, args.height, renderers=renderers, targets=targets, host=host
    )
    loading_since = time.perf_counter()
    with planned_use(use):
        scene = load_scene_or_builtin(args.scene, None)  # a streamed SOG streams
    if args.path == "cameras" and not scene.cameras:
        missing_cameras(args.scene)
    cameras = camera_path(args.path, scene, args.width, args.height, args.frames, up=args.up)
    frames = path_frames(cameras, args.gaze_grid)
    if ready is not None:
        ready()
    quality = not args.no_quality
    result = measure(
        scene, configs, frames, args.warmup, args.clock, quality, Progress("bench", unit="frames"),
        Progress("bench warmup", unit="frames") if args.warmup else None, loading_since,
    )  # fmt: skip
    setup = BenchSetup(
        scene=scene.source,
        gaussians=scene_gaussians(scene),
        sh_degree=scene.sh_degree,
        path=args.path,
        width=args.width,
        height=args.height,
        frames=len(frames),
        warmup=args.warmup,
        clock=args.clock,
        quality=quality,
        command=tuple(command_line(args)),
        gaze_grid=args.gaze_grid,
    )
    with atomic_folder(
        args.out, lambda old: check_run_folder(old, f"--out {quoted(args.out)}")
    ) as folder:
        report = write_outputs(folder, setup, result)
        written = [REPORT, FRAMES, *_plots(folder, result, report)]
    print(summary_table(report))
    print(f"wrote {', '.join(written)} in {quoted(args.out)}")
    return 0
