"""The `splatscope` command: view, render, bench, info, convert.

Bad input ends with one line on stderr naming the file and the problem, and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from viewer.builtin_scene import load_scene_or_builtin
from viewer.errors import EXIT_BAD_INPUT, SceneError
from viewer.setting_specs import add_arguments, from_arguments
from viewer.settings import PruneSettings, RasterSettings, RenderSettings


def _scene_arg(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    parser.add_argument(
        "scene",
        nargs="?" if optional else None,
        help="scene file (.ply, compressed .ply, .splat, .spz) or INRIA output folder"
        + (" (default: the built-in scene)" if optional else ""),
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="splatscope",
        description="Real-time viewer, renderer and benchmark for 3D Gaussian Splatting scenes.",
    )
    commands = parser.add_subparsers(dest="command")

    view = commands.add_parser("view", help="open the scene in a window (the default command)")
    _scene_arg(view, optional=True)
    view.add_argument("--width", type=int, default=1280, help="window width in pixels")
    view.add_argument("--height", type=int, default=720, help="window height in pixels")
    view.add_argument("--no-vsync", action="store_true", help="render as fast as possible")
    add_arguments(view, "view")

    render = commands.add_parser("render", help="render one image headless (EGL, no display)")
    _scene_arg(render, optional=True)
    render.add_argument("--camera", help="camera JSON, or an INRIA cameras.json (--camera-index)")
    render.add_argument("--camera-index", type=int, default=0, help="entry of a cameras.json")
    render.add_argument("--out", help="output PNG")
    render.add_argument("--out-npy", help="output float32 [H, W, 3] linear RGB .npy")
    render.add_argument("--width", type=int, help="override the camera's width (keeps its FOV)")
    render.add_argument("--height", type=int, help="override the camera's height")
    add_arguments(render, "render")

    info = commands.add_parser("info", help="print what a scene file holds")
    _scene_arg(info)

    prune = commands.add_parser(
        "prune", help="write the scene without its least important Gaussians (by a score)"
    )
    _scene_arg(prune, optional=True)
    prune.add_argument("--out", required=True, help="file to write (.ply or .splat)")
    prune.add_argument(
        "--near-plane", type=float, default=RenderSettings().near_plane,
        help="near plane of the views the view scores are measured from",
    )  # fmt: skip
    add_arguments(prune, "prune")

    convert = commands.add_parser("convert", help="convert between scene formats")
    convert.add_argument("input", help="scene to read")
    convert.add_argument("output", help="file to write (.ply or .splat)")

    bench = commands.add_parser("bench", help="benchmark frame times along a camera path")
    _scene_arg(bench, optional=True)
    from viewer.bench.cli import add_bench_arguments

    add_bench_arguments(bench)
    return parser


def _run_render(args: argparse.Namespace) -> int:
    from viewer.formats.camera_files import load_camera_file
    from viewer.headless import render_scene
    from viewer.image_files import save_png

    if not (args.out or args.out_npy):
        raise SceneError("<command line>", "render needs --out and/or --out-npy")
    scene = load_scene_or_builtin(args.scene)
    if args.camera:
        camera = load_camera_file(args.camera, args.camera_index)
    else:
        from viewer.framing import default_camera

        camera = default_camera(scene)
    if args.width or args.height:
        width = args.width or round(camera.width * args.height / camera.height)
        height = args.height or round(camera.height * args.width / camera.width)
        camera = camera.resized(width, height)
    settings = from_arguments(args, "render")
    image = render_scene(scene, camera, settings.of(RenderSettings), settings.of(RasterSettings))
    if args.out:
        save_png(image, args.out)
    if args.out_npy:
        import numpy as np

        np.save(args.out_npy, image)
    print(f"rendered {scene.count} Gaussians at {camera.width}x{camera.height}")
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from viewer.scene_info import describe

    print(describe(load_scene_or_builtin(args.scene)))
    return 0


def _run_convert(args: argparse.Namespace) -> int:
    from viewer.formats import load_scene, save_scene

    scene = load_scene(args.input)
    if Path(args.output).resolve() == Path(args.input).resolve():
        raise SceneError(args.output, "refusing to overwrite the input file")
    save_scene(scene, args.output)
    print(f"wrote {scene.count} Gaussians to {args.output}")
    return 0


def _run_prune(args: argparse.Namespace) -> int:
    from viewer.features.pruning import keep_mask
    from viewer.features.score_cache import cached_scores
    from viewer.formats import save_scene
    from viewer.render.context import create_headless_context
    from viewer.render.gpu_scene import GpuScene
    from viewer.render.renderer import SplatRenderer

    settings = from_arguments(args, "prune").of(PruneSettings)
    scene = load_scene_or_builtin(args.scene)
    if args.scene and Path(args.out).resolve() == Path(args.scene).resolve():
        raise SceneError(args.out, "refusing to overwrite the input file")
    ctx = create_headless_context()
    renderer = SplatRenderer(ctx)
    gpu_scene = GpuScene.from_scene(ctx, scene, renderer.device)
    try:
        near = args.near_plane
        scores = cached_scores(renderer, gpu_scene, scene, settings, near, _progress_line)
    finally:
        gpu_scene.release()
        renderer.release()
        ctx.release()
    keep = keep_mask(scores[settings.score], settings)
    kept = int(keep.sum())
    if kept == 0:
        raise SceneError(args.out, f"nothing left to write: no Gaussian kept by {settings.score}")
    save_scene(scene.subset(keep), args.out)
    print(
        f"kept {kept:,} of {scene.count:,} Gaussians ({100 * kept / scene.count:.1f} %) by "
        f"{settings.score}; wrote {args.out}"
    )
    return 0


def _progress_line(done: int, total: int) -> None:
    """Scoring progress on stderr, one line rewritten in place."""
    end = "\n" if done >= total else ""
    print(f"\rscoring views {done}/{total}", end=end, file=sys.stderr, flush=True)


def _run_view(args: argparse.Namespace) -> int:
    from viewer.app.main import run_viewer

    return run_viewer(args)


def _run_bench(args: argparse.Namespace) -> int:
    from viewer.bench.cli import run_bench

    return run_bench(args)


COMMANDS = {
    "view": _run_view,
    "render": _run_render,
    "info": _run_info,
    "convert": _run_convert,
    "prune": _run_prune,
    "bench": _run_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `splatscope`; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in (*COMMANDS, "-h", "--help"):
        argv = ["view", *argv]
    try:
        args = parser.parse_args(argv)
    except ValueError as exc:  # a setting's value rejected by its description
        print(f"splatscope: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from viewer.render.context import GLUnavailableError

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.formatwarning = lambda message, *rest: f"splatscope: warning: {message}\n"
        try:
            return COMMANDS[args.command](args)
        except (SceneError, GLUnavailableError) as exc:
            print(f"splatscope: error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            return 130
