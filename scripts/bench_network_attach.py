"""What watching a training over the network costs (loopback on this machine).

    python scripts/bench_network_attach.py updates [--gaussians 100000 1000000]
    python scripts/bench_network_attach.py step [--gaussians 1000000] [--blocks 3] [--steps 10]

updates: a served model (raw parameters, SH degree 3) and a viewer connected over loopback:
bytes and time of one update from `send` on the training side to the model in the viewer's
hands (packed, sent, decoded, merged), for a snapshot and for deltas with 1 % and 10 % of the
rows changed, each the median of --repeats; the sender's packing and comparing alone; and the
float16 payload against float32 (bytes per row, largest error). The server's bound on packing
(PACK_SHARE of its time) is lifted here, so that a time is the update's own cost, not the wait
the bound puts after the previous one; the sustained rate that bound allows is reported from
the sender's time.

step: a training step (synthetic gradients and an Adam step over every parameter) with no
viewer, and with `live.attach(serve=...)` and a viewer process taking updates at 10 a second,
in interleaved blocks (A B B A ...) so that machine load and drift hit both alike. The viewer
shares this machine's cores (a remote viewer would not). Reported: the median over all steps of
each and their ratio, the block medians, and the updates actually sent per second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from viewer import live
from viewer.protocol import LiveOptions, ModelUpdate
from viewer.remote import server as server_module
from viewer.remote.client import RemoteTrainer, connect
from viewer.remote.codec import encode_model, pack
from viewer.remote.server import TrainerServer
from viewer.settings import LiveControls

DEFAULT_SHARE = server_module.PACK_SHARE


def make_model(n: int) -> dict[str, torch.Tensor]:
    """Raw parameters of `n` Gaussians (gsplat's names), SH degree 3."""
    g = torch.Generator().manual_seed(0)
    return {
        "means": torch.randn(n, 3, generator=g) * 5.0,
        "scales": torch.randn(n, 3, generator=g) * 0.3 - 4.0,
        "quats": torch.randn(n, 4, generator=g),
        "opacities": torch.randn(n, generator=g),
        "sh0": torch.randn(n, 1, 3, generator=g) * 0.3,
        "shN": torch.randn(n, 15, 3, generator=g) * 0.05,
    }


def taken(viewer: RemoteTrainer, serial: int) -> None:
    """Wait until the viewer holds the model of `serial` (float32 arrays)."""
    while True:
        if viewer.poll(60.0):
            message = viewer.recv()
            if message.tensors is not None and message.serial >= serial:
                return


SHARES = (None, 0.01, 0.10)  # a snapshot, then deltas of these shares of the rows


def _name(share: float | None) -> str:
    return "snapshot" if share is None else f"delta {share:.0%} rows"


def _change(model: dict[str, torch.Tensor], share: float) -> None:
    """Move `share` of the rows (their centres), as a training step moves some."""
    n = model["means"].shape[0]
    changed = torch.randperm(n)[: int(share * n)]
    with torch.no_grad():
        model["means"][changed] += 0.01


def bench_updates(args: argparse.Namespace) -> dict:
    server_module.PACK_SHARE = 1.0  # no wait after an update: each time is its own cost
    out: dict = {"machine": _machine()}
    for n in args.gaussians:
        model = make_model(n)
        times: dict[str, list[float]] = {_name(share): [] for share in SHARES}
        sizes: dict[str, int] = {}
        serial = 0
        for _ in range(args.repeats):  # a new connection: a snapshot first, then the deltas
            server = TrainerServer("127.0.0.1", 0, "", LiveOptions())
            viewer = connect("127.0.0.1", server.address[1], "")
            for share in SHARES:
                if share is not None:
                    _change(model, share)
                serial += 1
                before = server.bytes_sent
                start = time.perf_counter()
                server.send(ModelUpdate(serial, serial, model if share is None else None))
                taken(viewer, serial)
                times[_name(share)].append(time.perf_counter() - start)
                sizes[_name(share)] = server.bytes_sent - before
            viewer.close()
            server.close()
        rows: dict = {
            name: {"MB": round(sizes[name] / 1e6, 2),
                   "ms (median)": round(1e3 * statistics.median(values), 1),
                   "ms (all)": [round(1e3 * v, 1) for v in values]}
            for name, values in times.items()
        }  # fmt: skip
        rows["sender ms (pack + compare + encode)"] = _sender(model, args.repeats)
        out[f"{n:,} Gaussians"] = rows
    out["float16 vs float32"] = _precision(make_model(100_000))
    return out


def _sender(model: dict[str, torch.Tensor], repeats: int) -> dict:
    """The training side's work for one update (median ms) and the rate the 5 % bound allows."""
    times: dict[str, list[float]] = {_name(share): [] for share in SHARES}
    for _ in range(repeats):
        last = None
        for share in SHARES:
            if share is not None:
                _change(model, share)
            start = time.perf_counter()
            packed = pack(model)
            encode_model(ModelUpdate(1, 1, None), packed, last)
            times[_name(share)].append(time.perf_counter() - start)
            last = packed
    out: dict = {name: round(1e3 * statistics.median(v), 1) for name, v in times.items()}
    delta = statistics.median(times[_name(0.01)])
    out[f"updates/s about allowed at PACK_SHARE {DEFAULT_SHARE}"] = round(DEFAULT_SHARE / delta, 2)
    return out


def _machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{os.cpu_count()} cores, {cpu}, torch threads {torch.get_num_threads()}, load {load}"


def _precision(model: dict[str, torch.Tensor]) -> dict:
    packed = pack(model).tensors()
    sh = torch.cat([model["sh0"], model["shN"]], dim=1).numpy()
    pairs = {"scales (log)": (packed["scales"], model["scales"].numpy()),
             "quaternions": (packed["rotations"], model["quats"].numpy()),
             "opacities (logit)": (packed["opacities"], model["opacities"].numpy()),
             "sh": (packed["sh"], sh)}  # fmt: skip
    errors = {name: float(np.abs(a - b).max()) for name, (a, b) in pairs.items()}
    return {
        "bytes per Gaussian": {"float32": 59 * 4, "sent (float32 means, float16 rest)": 124},
        "largest abs error": {k: f"{v:.2e}" for k, v in errors.items()},
        "means": "exact (float32)",
    }


def viewer_process(port: int, stop) -> None:
    """A viewer taking every model it is sent (decoded, merged, as float32 arrays)."""
    viewer = connect("127.0.0.1", port, "")
    while not stop.is_set():
        if viewer.poll(0.1):
            viewer.recv()
    viewer.close()


def training_step(model: dict[str, torch.Tensor], optimizer, grads) -> None:
    for name, value in model.items():
        value.grad = grads[name]
    optimizer.step()


def bench_step(args: argparse.Namespace) -> dict:
    n = args.gaussians[0]
    model = {k: v.requires_grad_() for k, v in make_model(n).items()}
    optimizer = torch.optim.Adam(model.values(), lr=1e-4)
    grads = {k: torch.randn_like(v) * 1e-3 for k, v in model.items()}
    training_step(model, optimizer, grads)
    server_module.PACK_SHARE = args.pack_share
    view = live.attach(serve="127.0.0.1:0", controls=LiveControls(update_rate=10.0))
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=viewer_process, args=(view._conn.address[1], stop))
    process.start()
    while view._conn._viewer is None:
        time.sleep(0.1)
    load = os.getloadavg()[0]
    steps: dict[str, list[float]] = {"none": [], "attached": []}
    medians: dict[str, list[float]] = {"none": [], "attached": []}
    offered = 0
    attached_seconds = 0.0
    sent_before = view._conn.models_sent
    step = 0
    for block in range(args.blocks):
        order = ("none", "attached") if block % 2 == 0 else ("attached", "none")
        for mode in order:
            times = []
            begin = time.perf_counter()
            for _ in range(args.steps):
                step += 1
                start = time.perf_counter()
                training_step(model, optimizer, grads)
                if mode == "attached":
                    offered += view.update(step, **model)
                times.append(time.perf_counter() - start)
            if mode == "attached":
                attached_seconds += time.perf_counter() - begin
            steps[mode] += times
            medians[mode].append(statistics.median(times))
    sent = view._conn.models_sent - sent_before
    stop.set()
    view.close()
    process.join(30.0)
    none, attached = statistics.median(steps["none"]), statistics.median(steps["attached"])
    return {
        "machine": _machine(),
        "load at start": round(load, 1),
        "gaussians": n,
        "pack share": args.pack_share,
        "blocks x steps": f"{args.blocks} x {args.steps} each",
        "step ms, no viewer (median of all)": round(1e3 * none, 2),
        "step ms, viewer at 10 updates/s (median of all)": round(1e3 * attached, 2),
        "ratio": round(attached / none, 3),
        "ratio of the block medians' medians": round(
            statistics.median(medians["attached"]) / statistics.median(medians["none"]), 3
        ),
        "updates offered (the 10/s rate limit let through)": offered,
        "models sent": sent,
        "models sent per second attached": round(sent / attached_seconds, 2),
        "block medians ms": {k: [round(1e3 * v, 1) for v in vs] for k, vs in medians.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("updates", "step"))
    parser.add_argument("--gaussians", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--blocks", type=int, default=12, help="step: pairs of blocks")
    parser.add_argument("--steps", type=int, default=20, help="step: steps per block")
    parser.add_argument("--repeats", type=int, default=3, help="updates: each measured this often")
    parser.add_argument(
        "--pack-share", type=float, default=DEFAULT_SHARE,
        help="step: the server's bound on packing (1: none, the link's rate)",
    )  # fmt: skip
    args = parser.parse_args()
    result = bench_updates(args) if args.what == "updates" else bench_step(args)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
