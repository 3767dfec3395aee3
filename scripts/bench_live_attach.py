"""What watching a training live costs: the update's upload, and the training loop's slowdown.

    python scripts/bench_live_attach.py upload [--gaussians 1000000] [--device cpu|cuda]
    python scripts/bench_live_attach.py attach [--gaussians 1000000] [--device cpu|cuda]
                                               [--consumer gl|window] [--blocks 3] [--steps 10]

upload: one model update (raw parameters, SH degree 3: 59 floats per Gaussian) written into a
raw GpuScene on a headless GL context, timed with the copies finished: the host path for CPU
tensors, the host path and (where it works) CUDA-GL interop for CUDA tensors.

attach: a training loop's step (synthetic gradients and an Adam step over every parameter of the
model) with and without `viewer.live` attached, in alternating blocks (baseline, attached, ...)
so that machine load hits both alike. The attached loop calls `view.update` every step (sent
at most 10 times a second, one in flight). The window end is a process that puts every update
on the GPU as the live window does but draws nothing (gl, the default: no display needed), or
the live window itself (window: needs a display). Reported: median step time of each, their
ratio, the time spent inside `update`, updates taken per second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from viewer.protocol import ModelUpdate, ViewerState
from viewer.render.live_feed import LiveFeed
from viewer.settings import LiveControls

SH_REST = 15  # SH degree 3


def make_model(n: int, device: str) -> dict[str, torch.Tensor]:
    """Raw parameters of `n` Gaussians (gsplat's names), SH degree 3."""
    g = torch.Generator().manual_seed(0)
    model = {
        "means": torch.randn(n, 3, generator=g),
        "scales": torch.randn(n, 3, generator=g) * 0.3 - 4.0,
        "quats": torch.randn(n, 4, generator=g),
        "opacities": torch.randn(n, generator=g),
        "sh0": torch.randn(n, 1, 3, generator=g) * 0.3,
        "shN": torch.randn(n, SH_REST, 3, generator=g) * 0.05,
    }
    return {k: v.to(device).requires_grad_() for k, v in model.items()}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


# -- upload ---------------------------------------------------------------------------------------


def bench_upload(args: argparse.Namespace) -> dict:
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    from viewer.render.context import DeviceInfo, create_headless_context
    from viewer.render.gpu_scene import GpuScene, HostUpload
    from viewer.render.interop import CudaGLUpload, interop_problem

    ctx = create_headless_context()
    device_info = DeviceInfo.of(ctx)
    model = {k: v.detach() for k, v in make_model(args.gaussians, args.device).items()}
    report: dict = {"gaussians": args.gaussians, "tensors": args.device,
                    "gl_renderer": device_info.renderer}  # fmt: skip
    if args.device == "cuda":
        report["cuda_device"] = torch.cuda.get_device_name()
    paths = [("host", HostUpload())]
    problem = interop_problem(ctx, device_info) if args.device == "cuda" else "CPU tensors"
    if problem is None:
        paths.append(("cuda-gl interop", CudaGLUpload()))
    else:
        report["interop"] = f"unavailable: {problem}"
    for name, upload in paths:
        scene = GpuScene(ctx, device_info, args.gaussians, sh_degree=3, raw=True)
        scene.upload = upload
        feed = LiveFeed()
        feed.receive(ModelUpdate(1, 1, model))
        times = []
        for _ in range(args.repeats + 1):
            feed.apply(scene)
            ctx.finish()
            times.append(feed.upload_ms)
        report[f"{name} ms"] = {
            "median": round(statistics.median(times[1:]), 3), "min": round(min(times[1:]), 3),
        }  # fmt: skip
        scene.release()
        if hasattr(upload, "release"):
            upload.release()
    ctx.release()
    return report


# -- attach ---------------------------------------------------------------------------------------


def gl_consumer(conn, options) -> None:
    """The live window's work on each update (onto a raw GPU scene), without a window."""
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    from viewer.render.context import DeviceInfo, create_headless_context
    from viewer.render.gpu_scene import GpuScene
    from viewer.render.interop import choose_upload

    ctx = create_headless_context()
    upload, _ = choose_upload(ctx)
    scene = GpuScene(ctx, DeviceInfo.of(ctx), 1, raw=True)
    scene.upload = upload
    feed = LiveFeed()
    controls = LiveControls()
    conn.send(ViewerState(controls=controls, upload=upload.name))
    times = []
    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message == "close":
            break
        if isinstance(message, ModelUpdate):
            feed.receive(message)
        while not feed.due() and not conn.poll(0.01):
            pass  # as the window: wait out the hold after a long copy (LiveFeed.due)
        if feed.due():
            feed.apply(scene)
            ctx.finish()
            times.append(feed.upload_ms)
            conn.send(ViewerState(acked=feed.serial, controls=controls, upload=upload.name))
    print(json.dumps({"consumer upload ms (median)": round(statistics.median(times), 2)
                      if times else None, "consumer updates": len(times)}), flush=True)  # fmt: skip


def attach_consumer(kind: str):
    """A LiveView whose window end is `kind` ("gl": headless GPU upload, "window": the window)."""
    import torch.multiprocessing as mp

    from viewer.live import LiveOptions, LiveView, attach

    if kind == "window":
        return attach(title="bench_live_attach")
    context = mp.get_context("spawn")
    ours, theirs = context.Pipe(duplex=True)
    process = context.Process(target=gl_consumer, args=(theirs, None), daemon=True)
    process.start()
    theirs.close()
    return LiveView(process, ours, LiveOptions(), raw=True)


def training_step(model: dict[str, torch.Tensor], optimizer, grads, device: str) -> None:
    """Synthetic gradients, then Adam over every parameter (as a training step ends)."""
    for name, value in model.items():
        value.grad = grads[name]
    optimizer.step()
    sync(device)


def bench_attach(args: argparse.Namespace) -> dict:
    model = make_model(args.gaussians, args.device)
    optimizer = torch.optim.Adam(model.values(), lr=1e-4)
    grads = {k: torch.randn_like(v) * 1e-3 for k, v in model.items()}
    training_step(model, optimizer, grads, args.device)  # Adam's state allocated
    view = attach_consumer(args.consumer)
    deadline = time.monotonic() + 120
    while not view.upload and not view.closed and time.monotonic() < deadline:
        time.sleep(0.1)  # the consumer is up (its imports take seconds)
    view.update(0, **model)  # the first update shares the tensors (a one-off copy for CPU ones)
    while view.acknowledged < 1 and not view.closed and time.monotonic() < deadline:
        time.sleep(0.1)
    baseline: list[float] = []
    attached: list[float] = []
    blocks: list[tuple[str, float]] = []  # (mode, median ms) of each block in order
    in_update = 0.0
    acked_before = view.acknowledged
    attached_seconds = 0.0
    step = 0
    for _ in range(args.blocks):
        for attach_on, times in ((False, baseline), (True, attached)):
            first = len(times)
            for _ in range(args.steps):
                step += 1
                start = time.perf_counter()
                training_step(model, optimizer, grads, args.device)
                if attach_on:
                    before = view.seconds_in_update
                    view.update(step, loss=0.0, **model)
                    in_update += view.seconds_in_update - before
                elapsed = time.perf_counter() - start
                times.append(elapsed)
                if attach_on:
                    attached_seconds += elapsed
            block = statistics.median(times[first:])
            blocks.append(("attached" if attach_on else "baseline", round(1e3 * block, 1)))
    acked = view.acknowledged - acked_before
    upload = view.upload
    view.close()
    base, live = statistics.median(baseline), statistics.median(attached)
    return {
        "gaussians": args.gaussians,
        "tensors": args.device,
        "consumer": args.consumer,
        "upload path": upload,
        "steps per mode": len(baseline),
        "baseline step ms (median)": round(1e3 * base, 2),
        "attached step ms (median)": round(1e3 * live, 2),
        "cost of attaching (% of step)": round(100.0 * (live - base) / base, 2),
        "inside update ms (mean per step)": round(1e3 * in_update / len(attached), 3),
        "updates taken per second": round(acked / attached_seconds, 2),
        "block medians ms, in order": blocks,
        "load average": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=("upload", "attach"))
    parser.add_argument("--gaussians", type=int, default=1_000_000)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--consumer", choices=("gl", "window"), default="gl")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="steps per block")
    parser.add_argument("--repeats", type=int, default=10, help="upload mode: timed updates")
    parser.add_argument("--out", help="write the report as JSON here too")
    args = parser.parse_args()
    report = bench_upload(args) if args.mode == "upload" else bench_attach(args)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
