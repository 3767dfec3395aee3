"""Time the key-value sorts (GPU radix vs CPU numpy) on GL buffers and print a table.

Each run re-uploads the same random keys, then times `sort` bracketed by `ctx.finish()` on the
wall clock; on a real GPU a GL timer query gives the GPU time as well (llvmpipe's is nonsense).

    python scripts/bench_sort.py --sizes 50000 200000 1000000 --key-bits 32 16 --keys depth
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import moderngl
import numpy as np

from viewer.render.context import DeviceInfo, create_headless_context
from viewer.render.sort import make_sort


def random_keys(kind: str, n: int, key_bits: int) -> np.ndarray:
    """[n] uint32 keys below 2**key_bits: uniform, or the bits of float depths in [0.2, 50]."""
    rng = np.random.default_rng(n)
    if kind == "uniform":
        return rng.integers(0, 2**key_bits, n, dtype=np.uint32)
    depth_bits = rng.uniform(0.2, 50.0, n).astype(np.float32).view(np.uint32)
    return depth_bits >> np.uint32(32 - key_bits)  # the top bits keep the depth order


def bench(
    ctx: moderngl.Context,
    backend: str,
    keys: np.ndarray,
    key_bits: int,
    repeats: int,
    warmup: int,
) -> dict[str, object]:
    """Median wall-clock (and GPU timer) milliseconds of one sort of the [n] uint32 keys."""
    n = len(keys)
    values = np.arange(n, dtype=np.uint32)  # [n] uint32
    key_buf, value_buf = ctx.buffer(keys), ctx.buffer(values)
    count_buf = ctx.buffer(np.array([n], np.uint32))
    sorter = make_sort(ctx, backend, n)
    timer = None if DeviceInfo.of(ctx).is_software or backend == "cpu" else ctx.query(time=True)
    wall, gpu = [], []
    for i in range(warmup + repeats):
        key_buf.write(keys)
        value_buf.write(values)
        ctx.finish()
        start = time.perf_counter()
        if timer is None:
            sorter.sort(key_buf, value_buf, count_buf, key_bits=key_bits)
        else:
            with timer:
                sorter.sort(key_buf, value_buf, count_buf, key_bits=key_bits)
        ctx.finish()
        if i >= warmup:
            wall.append((time.perf_counter() - start) * 1e3)
            if timer is not None:
                gpu.append(timer.elapsed * 1e-6)
    result = np.frombuffer(key_buf.read(), np.uint32)
    if not np.array_equal(result, np.sort(keys)):
        raise RuntimeError(f"{backend} sort of {n} keys gave a wrong order")
    sorter.release()
    for buffer in (key_buf, value_buf, count_buf):
        buffer.release()
    return {
        "backend": backend,
        "n": n,
        "key_bits": key_bits,
        "wall_ms": statistics.median(wall),
        "gpu_ms": statistics.median(gpu) if gpu else None,
        "gpairs_per_s": n / statistics.median(gpu or wall) * 1e-6,
    }


def main() -> None:
    """Parse arguments, run the sweep, print the table (and write JSON if asked)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 1_000_000])
    parser.add_argument("--key-bits", type=int, nargs="+", default=[32, 16])
    parser.add_argument("--backends", nargs="+", default=["gpu", "cpu"], choices=["gpu", "cpu"])
    parser.add_argument("--keys", default="uniform", choices=["uniform", "depth"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()

    ctx = create_headless_context()
    print(f"device: {DeviceInfo.of(ctx).renderer}, keys: {args.keys}")
    print(f"{'backend':>7} {'n':>9} {'bits':>4} {'wall ms':>9} {'gpu ms':>8} {'Gpairs/s':>9}")
    rows = []
    # Backend by backend: on an H100, GPU sorts of fresh buffers ran 4x slower after CpuSort had
    # read back 6M pairs in the same process (the driver's buffer placement, presumably).
    for backend in args.backends:
        for n in args.sizes:
            for key_bits in args.key_bits:
                keys = random_keys(args.keys, n, key_bits)
                row = bench(ctx, backend, keys, key_bits, args.repeats, args.warmup)
                rows.append(row)
                gpu_ms = "-" if row["gpu_ms"] is None else f"{row['gpu_ms']:.3f}"
                print(
                    f"{backend:>7} {n:>9} {key_bits:>4} {row['wall_ms']:>9.3f} {gpu_ms:>8} "
                    f"{row['gpairs_per_s']:>9.3f}"
                )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=2)


if __name__ == "__main__":
    main()
