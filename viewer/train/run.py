"""The `train` and `make-dataset` commands: checks first, then the work, outputs atomic.

`splatscope train DATA --out DIR` writes an INRIA training output folder, which `splatscope
view DIR` opens:
    DIR/cameras.json                              every camera (train, then test)
    DIR/cfg_args                                  the original trainer's argument line
    DIR/point_cloud/iteration_<N>/point_cloud.ply the model at step N (every --save-every, end)
    DIR/chkpnt<N>.pth                             parameters, Adam moments, RNG (--resume)
    DIR/results.json                              held-out PSNR / SSIM at the end

With --nproc N (or under torchrun) the ranks train data parallel (viewer.train.distributed);
rank 0 alone writes these and hosts the live view.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import torch

from viewer.errors import EXIT_BAD_INPUT, SceneError, quoted
from viewer.formats.cameras_json import write_inria_cameras
from viewer.formats.files import write_file
from viewer.formats.limits import SceneUse
from viewer.formats.ply import write_inria_ply
from viewer.image_metrics import SSIM_WINDOW
from viewer.progress import Progress
from viewer.setting_specs import from_arguments
from viewer.settings import LiveControls, TrainSettings
from viewer.train.backends import choose_backend, choose_device
from viewer.train.datasets import Dataset, open_dataset
from viewer.train.distributed import PEER_LOST, PeerLostError, Ranks, join, launched
from viewer.train.trainer import StepResult, Trainer, check_batch, scaled_camera
from viewer.train.whole_steps import StepGuard


def check_output_folder(path: Path, resuming: bool) -> None:
    """Refuse an --out that is a file, cannot be made, or holds files (unless resuming there).

    Raises:
        SceneError: naming --out.
    """
    from viewer.bench.cli import check_output_folder as check_folder

    check_folder(path, "--out")
    if path.is_dir() and any(path.iterdir()) and not resuming:
        raise SceneError(
            f"--out {path}", "is not empty; choose a new folder (or --resume a checkpoint there)"
        )


def load_checkpoint(path: Path) -> dict[str, Any]:
    """A checkpoint written by `save_checkpoint`.

    Raises:
        SceneError: for a missing or unreadable file, or one that is no checkpoint of ours.
    """
    from viewer.input_files import read_bytes

    data = read_bytes(path)
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a bad file
        raise SceneError(path, f"not a training checkpoint ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("version") != 1 or "model" not in state:
        raise SceneError(path, "not a splatscope training checkpoint")
    _check_checkpoint(state, path)
    return state


PARAMETER_SHAPES = {"means": (3,), "scales": (3,), "quats": (4,), "opacities": (), "sh0": (1, 3)}
# --renderer of make-dataset as its summary names it ("gpu" is the GL pipeline, llvmpipe too)
RENDERER_NAMES = {"gpu": "GL renderer", "reference": "torch reference renderer"}


def _check_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Refuse a checkpoint a run cannot continue from, before any work.

    Its step, the model's parameters (float tensors of one row count, finite, shaped as
    GaussianModel's), extent and near plane (finite, positive), the random generator's state,
    and the optimizer states, restored on trial.

    Raises:
        SceneError: naming the file and what is wrong.
    """
    from viewer.scene import SH_COEFFS_FOR_DEGREE
    from viewer.train.model import PARAMETER_NAMES, GaussianModel, LearningRates

    def refuse(what: str) -> NoReturn:
        raise SceneError(path, f"not a usable splatscope checkpoint: {what}")

    step = state.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        refuse("its step is not a count of steps")
    model = state["model"]
    params = model.get("params") if isinstance(model, dict) else None
    if not isinstance(params, dict) or not isinstance(model.get("optimizers"), dict):
        refuse("no model parameters and optimizer states")
    rows = None
    shn = {(k - 1, 3) for k in SH_COEFFS_FOR_DEGREE.values()}
    for name in PARAMETER_NAMES:
        value = params.get(name)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() or not value.ndim:
            refuse(f"parameter {name} is not a float tensor")
        tail = tuple(value.shape[1:])
        if (tail not in shn) if name == "shN" else (tail != PARAMETER_SHAPES[name]):
            refuse(f"parameter {name} has the shape {tuple(value.shape)}")
        rows = value.shape[0] if rows is None else rows
        if value.shape[0] != rows or rows == 0:
            refuse(f"parameter {name} has {value.shape[0]} rows, not {rows}")
        if not bool(torch.isfinite(value).all()):
            refuse(f"parameter {name} holds values that are not finite")
    for name, value in (("extent", model.get("extent")), ("near_plane", state.get("near_plane"))):
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else -1
        if not (math.isfinite(number) and number > 0):
            refuse(f"its {name} is not a positive number")
    generator = state.get("generator")
    try:
        if not isinstance(generator, torch.Tensor):
            raise TypeError(type(generator).__name__)
        torch.Generator().set_state(generator)
    except (TypeError, RuntimeError, ValueError):
        refuse("its random generator state is not one")
    try:
        GaussianModel.from_state_dict(model, LearningRates(), "cpu")
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as exc:
        refuse(f"its optimizer states do not fit its parameters ({type(exc).__name__})")


def save_outputs(trainer: Trainer, out: Path, checkpoint: bool = True) -> None:
    """point_cloud/iteration_<step>/point_cloud.ply and chkpnt<step>.pth, each atomic."""
    step = trainer.step_count
    folder = out / "point_cloud" / f"iteration_{step}"
    folder.mkdir(parents=True, exist_ok=True)
    write_inria_ply(trainer.model.to_scene(str(out)), folder / "point_cloud.ply")
    if checkpoint:
        state = trainer.checkpoint_state()
        write_file(out / f"chkpnt{step}.pth", lambda file: torch.save(state, file))


def _write_start(trainer: Trainer, out: Path, data: Path) -> None:
    """cameras.json and cfg_args (read by INRIA tools such as SIBR)."""
    out.mkdir(parents=True, exist_ok=True)
    cameras = [*trainer.train_cameras, *trainer.test_cameras]
    names = [view.camera.name for view in (*trainer.dataset.train, *trainer.dataset.test)]
    named = [dataclasses.replace(c, name=n) for c, n in zip(cameras, names, strict=True)]
    write_inria_cameras(out / "cameras.json", named)
    white = trainer.background == (1.0, 1.0, 1.0)
    line = (
        f"Namespace(data_device='{trainer.device.type}', eval={bool(trainer.test_cameras)}, "
        f"images='images', model_path='{out}', resolution={trainer.settings.downscale}, "
        f"sh_degree={trainer.model.sh_degree}, source_path='{data}', white_background={white})"
    )
    write_file(out / "cfg_args", lambda file: file.write(line.encode()))


def _check_image_size(dataset: Dataset, downscale: int) -> None:
    """Refuse images smaller (at --downscale) than the SSIM window the loss and evaluation use.

    Raises:
        SceneError: naming the first image (and --downscale when it shrinks them).
    """
    camera = scaled_camera(dataset.train[0].camera, downscale)
    if min(camera.width, camera.height) < SSIM_WINDOW:
        width, height = dataset.size
        shrunk = (
            f", {camera.width}x{camera.height} at --downscale {downscale}" if downscale > 1 else ""
        )
        raise SceneError(
            dataset.train[0].image,
            f"is {width}x{height} pixels{shrunk}: smaller than the {SSIM_WINDOW}x{SSIM_WINDOW} "
            "window of the SSIM that training measures",
        )


def run_train(args: argparse.Namespace, inputs_ready: Callable[[], None]) -> int:
    """`splatscope train DATA --out DIR [--view] [--resume FILE] [--nproc N] [train settings]`.

    With --nproc N > 1 the inputs are checked here, then N workers run this command line
    without --nproc (viewer.train.launch). A worker (RANK and WORLD_SIZE set by the launcher)
    joins the process group; only rank 0 checks --out, writes, prints and hosts the view.
    """
    settings = from_arguments(args, "train").of(TrainSettings)
    nproc = getattr(args, "nproc", 1)
    worker = launched()
    if getattr(args, "token", None) and not getattr(args, "serve", None):
        raise SceneError("--token", "is for --serve (a live view served on the network)")
    if worker and nproc > 1:
        raise SceneError("--nproc", "starts workers: leave it out under torchrun")
    data, out = Path(args.data), Path(args.out)
    dataset = open_dataset(data, settings.test_every)
    _check_image_size(dataset, settings.downscale)
    checkpoint = load_checkpoint(Path(args.resume)) if args.resume else None
    leader = not worker or os.environ["RANK"] == "0"
    if leader:
        check_output_folder(out, resuming=checkpoint is not None)
    device = choose_device(settings.device)
    backend = choose_backend(settings.backend, device)
    if checkpoint is not None and checkpoint["step"] >= settings.iterations:
        raise SceneError(
            args.resume, f"is at step {checkpoint['step']}, not before --iterations "
            f"{settings.iterations}",
        )  # fmt: skip
    world = int(os.environ["WORLD_SIZE"]) if worker else nproc
    check_batch(settings.batch, world, backend)
    if nproc > 1:
        from viewer.train.launch import check_nproc, launch

        check_nproc(nproc, device)
        inputs_ready()
        return launch(list(args.argv), nproc, out)
    inputs_ready()
    ranks = join(device) if worker else Ranks(device=device)
    try:
        return _train(args, dataset, Trainer(dataset, settings, ranks.device, backend, checkpoint,
                                              ranks))  # fmt: skip
    except SceneError:
        if ranks.leader:
            raise
        raise SystemExit(EXIT_BAD_INPUT) from None  # rank 0 says why, once
    except PeerLostError:
        raise SystemExit(PEER_LOST) from None  # the launcher names the rank that went
    finally:
        ranks.close()


def _train(args: argparse.Namespace, dataset: Dataset, trainer: Trainer) -> int:
    """The training loop, then (rank 0) the evaluation and results.json."""
    data, out, leader = Path(args.data), Path(args.out), trainer.ranks.leader
    backend, device = trainer.backend, trainer.device
    if leader:
        _write_start(trainer, out, data)
        ranks = f" in {trainer.ranks.world} processes" if trainer.ranks.world > 1 else ""
        print(
            f"training {trainer.model.count:,} Gaussians on {len(trainer.train_images)} images "
            f"({len(trainer.test_images)} held out) of {dataset.kind} {data}, "
            f"{trainer.train_cameras[0].width}x{trainer.train_cameras[0].height}, "
            f"{backend.name} renderer on {device.type}{ranks}",
            flush=True,
        )
    wanted = args.view or getattr(args, "serve", None)
    view = _attach(args, trainer) if wanted and leader else None
    guard = StepGuard()
    try:
        _loop(trainer, out, view, getattr(args, "check_every", 0), guard)
    except KeyboardInterrupt:
        if leader and guard.torn:
            print(
                f"\ninterrupted twice inside step {trainer.step_count}: the model may be half "
                f"edited, so it is not saved (what {out} holds stays)",
                file=sys.stderr,
            )
        elif leader:
            save_outputs(trainer, out)
            print(f"\ninterrupted: saved step {trainer.step_count} to {out}", file=sys.stderr)
        if guard.torn:
            raise
        # the ranks stopped before the same step: the others leave once rank 0 has saved, and
        # leave as done (a failed worker would have the launcher stop rank 0 mid-save)
        trainer.ranks.wait_for_all()
        if not leader:
            return 0
        raise
    if not leader:
        return 0
    result = trainer.evaluate()
    summary: dict[str, Any] = {
        "iterations": trainer.step_count,
        "gaussians": trainer.model.count,
        "seconds": round(trainer.seconds, 2),
        "renderer": backend.name,
        "device": device.type,
    }
    if result.views:
        summary.update(test_psnr=round(result.psnr, 3), test_ssim=round(result.ssim, 4),
                       test_views=result.views)  # fmt: skip
        print(
            f"held-out views: PSNR {result.psnr:.2f} dB, SSIM {result.ssim:.4f} over "
            f"{result.views} views"
        )
    text = json.dumps(summary, indent=1).encode()
    write_file(out / "results.json", lambda file: file.write(text))
    print(f"wrote {quoted(out)} ({trainer.model.count:,} Gaussians at step {trainer.step_count})")
    if view is not None:
        view.finish(f"training done at step {trainer.step_count}")
    return 0


def _loop(trainer: Trainer, out: Path, view: Any, check_every: int, guard: StepGuard) -> None:
    """Steps until the last iteration; Ctrl+C lands between steps (`guard`)."""
    settings, ranks = trainer.settings, trainer.ranks
    progress = Progress("train", settings.iterations) if ranks.leader else None
    if progress is not None:
        progress.begin(trainer.step_count)
    controls = LiveControls()
    recent: list[StepResult] = []
    while trainer.step_count < settings.iterations:
        if view is not None:
            view.wait_while_paused()
            controls = view.controls
        with guard.step(keep=ranks.world > 1):  # several ranks: they agree on where to stop
            agreed, stop = ranks.agree(controls, guard.pending)
            if not stop:
                result = trainer.step(agreed)
        if stop:
            guard.stop()
        if check_every and result.step % check_every == 0:
            ranks.check_identical(trainer.model.params, result.step)
        if progress is None:
            continue
        recent = [*recent[-19:], result]
        if view is not None:
            view.update(
                step=result.step, loss=result.loss, psnr=result.psnr, **trainer.model.params
            )
        if result.densified:
            progress.note(f"step {result.step}: {result.densified}")
        loss = sum(r.loss for r in recent) / len(recent)
        finite = [r.psnr for r in recent if math.isfinite(r.psnr)]
        psnr = sum(finite) / len(finite) if finite else math.inf
        progress.update(result.step, f"loss {loss:.4f} PSNR {psnr:5.2f} dB N {result.gaussians:,}")
        if settings.save_every and result.step % settings.save_every == 0:
            save_outputs(trainer, out)
    if progress is not None:
        save_outputs(trainer, out)


def _attach(args: argparse.Namespace, trainer: Trainer) -> Any:
    """The live view of the model being trained (a window in its own process, or served)."""
    from viewer.live import attach

    cameras = [*trainer.train_cameras, *trainer.test_cameras]
    serve = getattr(args, "serve", None)
    if serve is not None:
        from viewer.remote.address import parse_address

        try:
            parse_address(serve)
        except ValueError as exc:
            raise SceneError("--serve", str(exc)) from None
    return attach(
        serve=serve,
        token=getattr(args, "token", None),
        title=f"training {Path(args.data).name}",
        cameras=cameras,
        background=trainer.background,
        near_plane=trainer.near_plane,
        width=getattr(args, "width", 1280),
        height=getattr(args, "height", 720),
    )


def _dataset_renderer(kind: str, width: int, height: int) -> tuple[str, SceneUse | None]:
    """("gpu" or "reference", what it needs of a scene) for --renderer `kind`, checked first.

    The GPU pipeline where a GL context opens ("auto") or is asked for ("gpu"), its device
    checked for the image size (viewer.render.budget) before the scene is read.

    Raises:
        SceneError: naming --renderer gpu when no context opens, or --width/--height for an
            image the device cannot render.
    """
    if kind == "reference":
        return kind, None
    from viewer.render.budget import check_device, render_use
    from viewer.render.context import GLUnavailableError

    try:
        device = check_device(width, height, "--width/--height")
    except GLUnavailableError as exc:
        if kind == "gpu":
            raise SceneError("--renderer gpu", str(exc)) from None
        return "reference", None
    return "gpu", render_use(device, width, height)


def run_make_dataset(args: argparse.Namespace, inputs_ready: Callable[[], None]) -> int:
    """`splatscope make-dataset SCENE --views N --width W --height H --out DIR`."""
    from viewer.bench.cli import check_output_folder as check_folder
    from viewer.builtin_scene import load_scene_or_builtin
    from viewer.formats.limits import planned_use
    from viewer.train.make_dataset import DatasetPlan, make_dataset

    out = Path(args.out)
    check_folder(out, "--out")
    if out.exists() and any(out.iterdir()):
        raise SceneError(f"--out {quoted(out)}", "is not empty; choose a new folder")
    test_views = args.test_views if args.test_views is not None else max(1, args.views // 8)
    renderer, use = _dataset_renderer(args.renderer, args.width, args.height)
    plan = DatasetPlan(
        args.views, test_views, args.width, args.height, args.points, args.up, args.seed, renderer,
    )  # fmt: skip
    with planned_use(use):
        scene = load_scene_or_builtin(args.scene)
    inputs_ready()
    start = time.monotonic()
    progress = Progress("render", args.views + test_views)
    renderer = make_dataset(scene, plan, out, lambda done, _: progress.update(done))
    print(
        f"wrote {args.views} training and {test_views} held-out views of {quoted(scene.source)} at "
        f"{args.width}x{args.height} to {quoted(out)} ({RENDERER_NAMES[renderer]}, "
        f"{time.monotonic() - start:.1f} s)"
    )
    return 0
