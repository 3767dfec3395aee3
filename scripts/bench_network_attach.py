"""What watching a training over the network costs (loopback on this machine).

    python scripts/bench_network_attach.py updates [--gaussians 100000 1000000]
    python scripts/bench_network_attach.py step [--gaussians 1000000] [--blocks 3] [--steps 10]

updates: a served model (raw parameters, SH degree 3) and a viewer connected over loopback:
bytes and time of one update from `send` on the training side to the model in the viewer's
hands (packed, sent, decoded, merged), for a snapshot and for deltas with 1 % and 10 % of the
rows changed; and the float16 payload against float32 (bytes per row, largest error).

step: a training step (synthetic gradients and an Adam step over every parameter) with no
viewer, and with `live.attach(serve=...)` and a viewer process taking updates at 10 a second,
in alternating blocks so that machine load hits both alike. The viewer shares this machine's
cores (a remote viewer would not). Reported: median step time of each and their ratio.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from viewer import live
from viewer.protocol import LiveOptions, ModelUpdate
from viewer.remote.client import RemoteTrainer, connect
from viewer.remote.codec import pack
from viewer.remote.server import TrainerServer
from viewer.settings import LiveControls


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


def bench_updates(args: argparse.Namespace) -> dict:
    out: dict = {}
    for n in args.gaussians:
        model = make_model(n)
        server = TrainerServer("127.0.0.1", 0, "", LiveOptions())
        viewer = connect("127.0.0.1", server.address[1], "")
        rows: dict = {}
        for serial, share in enumerate((None, 0.01, 0.10), start=1):
            if share is not None:
                changed = torch.randperm(n)[: int(share * n)]
                with torch.no_grad():
                    model["means"][changed] += 0.01
            before = server.bytes_sent
            start = time.perf_counter()
            server.send(ModelUpdate(serial, serial, model if serial == 1 else None))
            taken(viewer, serial)
            seconds = time.perf_counter() - start
            name = "snapshot" if share is None else f"delta {share:.0%} rows"
            rows[name] = {"MB": round((server.bytes_sent - before) / 1e6, 2),
                          "ms": round(1e3 * seconds, 1)}  # fmt: skip
        viewer.close()
        server.close()
        start = time.perf_counter()
        pack(model)
        rows["pack ms"] = round(1e3 * (time.perf_counter() - start), 1)
        out[f"{n:,} Gaussians"] = rows
    out["float16 vs float32"] = _precision(make_model(100_000))
    return out


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
    view = live.attach(serve="127.0.0.1:0", controls=LiveControls(update_rate=10.0))
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=viewer_process, args=(view._conn.address[1], stop))
    process.start()
    while view._conn._viewer is None:
        time.sleep(0.1)
    medians: dict[str, list[float]] = {"none": [], "attached": []}
    sent = 0
    for _ in range(args.blocks):
        for mode in medians:
            times = []
            for step in range(args.steps):
                start = time.perf_counter()
                training_step(model, optimizer, grads)
                if mode == "attached":
                    sent += view.update(step, **model)
                times.append(time.perf_counter() - start)
            medians[mode].append(statistics.median(times))
    total = view._conn.models_sent
    stop.set()
    view.close()
    process.join(30.0)
    none, attached = statistics.median(medians["none"]), statistics.median(medians["attached"])
    return {
        "gaussians": n,
        "step ms, no viewer": round(1e3 * none, 1),
        "step ms, viewer at 10 updates/s": round(1e3 * attached, 1),
        "ratio": round(attached / none, 3),
        "updates offered": sent,
        "models sent": total,
        "block medians ms": {k: [round(1e3 * v, 1) for v in vs] for k, vs in medians.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("updates", "step"))
    parser.add_argument("--gaussians", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="steps per block")
    args = parser.parse_args()
    result = bench_updates(args) if args.what == "updates" else bench_step(args)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
