"""A human-readable summary of a scene: `splatscope info`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from viewer.errors import quoted
from viewer.formats.sog_lod import read_lod_meta
from viewer.scene import GaussianScene

SIGNIFICANT = 4  # digits of the values shown


def number(value: float, digits: int = SIGNIFICANT) -> str:
    """`value` to `digits` significant digits, as people write it: 1.925, 0.0006646, 3.7e-09.

    Float32 values are shown as their nearest short decimal (1.925, not 1.9249999523162842),
    and never as -0.
    """
    text = f"{float(value):.{digits}g}"
    return "0" if text == "-0" else text


def vector(values: np.ndarray) -> str:
    """A short vector as (x, y, z) with `number`'s rounding."""
    return "(" + ", ".join(number(v) for v in values) + ")"


def _stats(name: str, values: np.ndarray) -> str:
    p1, p50, p99 = np.percentile(values, [1, 50, 99])
    low, high = values.min(), values.max()
    fields = (("min", low), ("p1", p1), ("median", p50), ("p99", p99), ("max", high))
    return f"  {name:<12} " + "  ".join(f"{label} {number(v):<9}" for label, v in fields).rstrip()


def _format_line(scene: GaussianScene) -> str:
    """What the scene was read from: its file format and version, and the file's size."""
    if not scene.file_format:
        return "in memory (no file)"
    if scene.source == "builtin":
        return f"{scene.file_format} (the built-in scene, shipped with splatscope)"
    try:
        size = os.path.getsize(scene.source)
    except (OSError, ValueError):
        return scene.file_format
    return f"{scene.file_format}, {_size(size)}"


def _size(count: int) -> str:
    """Bytes in the unit that keeps the number short (B, KiB, MiB, GiB)."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"


def scene_gaussians(scene: GaussianScene) -> int:
    """The scene's Gaussians: a streamed scene's finest level, not just what was read first."""
    if scene.streamed is None:
        return scene.count
    return read_lod_meta(Path(scene.streamed)).counts[0]


def _streamed_lines(scene: GaussianScene) -> list[str]:
    """A streamed SOG's index (nothing for other scenes): the rest describes its coarsest level."""
    if scene.streamed is None:
        return []
    meta = read_lod_meta(Path(scene.streamed))
    leaves = sum(1 for node in meta.nodes if node.lods)
    per_level = ", ".join(f"{count:,}" for count in meta.counts)
    return [
        f"streamed     {meta.counts[0]:,} Gaussians at level 0; per level {per_level}",
        f"             {leaves:,} spatial leaves, {len(meta.filenames):,} chunk files; "
        "below: every leaf at its coarsest level (--lod-level N reads one level whole)",
    ]


def describe(scene: GaussianScene) -> str:
    """Format, count, SH degree, bounds, memory, property ranges and cameras of `scene`."""
    lo, hi = scene.bounds
    rlo, rhi = scene.robust_bounds()
    coefficients = scene.sh.shape[1]
    lines = [
        f"source       {quoted(scene.source)}",
        f"format       {_format_line(scene)}",
        *_streamed_lines(scene),
        f"gaussians    {scene.count:,}",
        f"sh degree    {scene.sh_degree} ({coefficients} coefficient"
        f"{'' if coefficients == 1 else 's'} per channel)",
        f"bounds       min {vector(lo)}  max {vector(hi)}",
        f"bounds 1-99% min {vector(rlo)}  max {vector(rhi)}",
        f"memory       {_size(scene.nbytes)} on the host",
        "properties",
        _stats("opacity", scene.opacities),
        _stats("scale", scene.scales.reshape(-1)),
        _stats("max scale", scene.scales.max(axis=1)),
        _stats("dc colour", (0.28209479177387814 * scene.sh[:, 0] + 0.5).reshape(-1)),
        f"cameras      {len(scene.cameras)}",
    ]
    lines += [
        f"  {i:>3} {quoted(c.name) if c.name else '-'}  {c.width}x{c.height}  "
        f"fov_y {c.fov_y_degrees:.1f} deg"
        for i, c in enumerate(scene.cameras[:10])
    ]
    if len(scene.cameras) > 10:
        lines.append(f"  ... and {len(scene.cameras) - 10} more")
    return "\n".join(lines)
