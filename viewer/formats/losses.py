"""Output formats: the one a file name selects, and what writing a scene in it loses.

What it loses is for `convert` to print.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.formats.compressed_ply_write import LOG_SCALE_LIMIT, _chunk_bounds, morton_order
from viewer.formats.sh_layout import rgb_from_dc
from viewer.formats.sog_losses import sog_losses
from viewer.formats.spz import COLOUR_SCALE
from viewer.formats.spz_write import (
    DEFAULT_FRACTION_BITS,
    DEFAULT_SH_BITS,
    WRITABLE_VERSIONS,
    fraction_bits_for,
)
from viewer.scene import GaussianScene

# What save_scene writes; "meta.json" is a name ending (an unbundled SOG), the rest suffixes.
OUTPUT_FORMATS = (".ply", ".compressed.ply", ".splat", ".spz", ".sog", "meta.json", ".glb")
STREAMED_FORMAT = "lod-meta.json"  # written by `convert` from the LOD tree, not by save_scene
STREAMED_LOSS = (
    "levels 1 and up hold merged Gaussians of splatscope's LOD hierarchy, built per spatial "
    "chunk (level 0 holds the scene's own)"
)
GLB_LOSS = (
    "scales stored linear and opacities after the sigmoid, as KHR_gaussian_splatting defines: "
    "the log-scales and opacity logits are recomputed when read (float32 rounding)"
)


def output_format(path_or_suffix: str | Path) -> str | None:
    """The output format (OUTPUT_FORMATS or STREAMED_FORMAT) a path or suffix selects, or None.

    '.compressed.ply' (any case) selects the SuperSplat compressed PLY, any other '.ply' the
    INRIA PLY; 'lod-meta.json' a streamed SOG, another name ending in 'meta.json' an unbundled
    SOG.
    """
    name = Path(path_or_suffix).name.lower() or str(path_or_suffix).lower()
    if name == STREAMED_FORMAT:
        return name
    if name.endswith("meta.json"):
        return "meta.json"
    if not name.startswith("."):
        name = "." + name  # a bare "spz" or a name such as "scene.spz" both work below
    for suffix in (".compressed.ply", ".ply", ".splat", ".spz", ".sog", ".glb"):
        if name.endswith(suffix):
            return suffix
    return None


def _outside(values: np.ndarray, lo: float, hi: float) -> int:
    """Number of rows of `values` with an entry outside [lo, hi]."""
    flat = values.reshape(values.shape[0], -1)
    return int(np.count_nonzero(((flat < lo) | (flat > hi)).any(axis=1)))


def _clamped(count: int, what: str, lo: float, hi: float) -> str:
    """'; N Gaussians have <what> outside [lo, hi], clamped' or ''."""
    return f"; {count:,} Gaussians have {what} outside [{lo:g}, {hi:g}], clamped" if count else ""


def _sh_dropped(scene: GaussianScene, kept: int) -> list[str]:
    """The line for SH above degree `kept`, if the scene has any."""
    if scene.sh_degree <= kept:
        return []
    dropped = 3 * (scene.sh.shape[1] - (kept + 1) ** 2)
    return [
        f"SH degree {scene.sh_degree} -> {kept}: the {dropped} higher-order coefficients per "
        "Gaussian (view-dependent colour) are dropped"
    ]


def _splat_losses(scene: GaussianScene) -> list[str]:
    """.splat: float32 positions and scales; colour, opacity and rotation in 8 bits."""
    rgb = rgb_from_dc(scene.sh[:, 0])
    return [
        *_sh_dropped(scene, 0),
        "base colour and opacity quantised to 8 bits (steps of 1/255)"
        + _clamped(_outside(rgb, 0.0, 1.0), "base colours", 0, 1),
        "rotations quantised to 8 bits per component (steps of 1/128: within 1 degree)",
    ]


def _spz_losses(scene: GaussianScene, version: int) -> list[str]:
    """.spz v3/v4: fixed-point positions, 8-bit everything else, SH to fewer bits."""
    bits = fraction_bits_for(scene)
    position = f"positions rounded to 24-bit fixed point with {bits} fractional bits (steps of "
    position += f"2^-{bits} = {2.0**-bits:.3g})"
    if bits < DEFAULT_FRACTION_BITS:
        reach = float(np.abs(scene.means).max())
        position += f", fewer than the usual {DEFAULT_FRACTION_BITS} as the scene reaches {reach:g}"
    log_hi = 255 / 16 - 10
    dc_limit = 127.5 / (COLOUR_SCALE * 255)
    lines = [
        position,
        "log-scales quantised to steps of 1/16"
        + _clamped(_outside(scene.stored_log_scales(), -10.0, log_hi), "log-scales", -10, log_hi),
        "opacity quantised to 8 bits (steps of 1/255)",
        f"base colour quantised to 8 bits (SH DC steps of {1 / (COLOUR_SCALE * 255):.3f})"
        + _clamped(_outside(scene.sh[:, 0], -dc_limit, dc_limit), "SH DC", -3.33, 3.33),
        "rotations packed as 'smallest three' (3 x 9-bit magnitudes: within 0.3 degrees)",
    ]
    if scene.sh_degree > 0:
        first, rest = DEFAULT_SH_BITS
        sh = f"SH above DC quantised to {first} bits (degree 1)"
        sh += f" and {rest} bits (degrees 2-3)" if scene.sh_degree > 1 else ""
        sh += " of [-1, 1)" + _clamped(_outside(scene.sh[:, 1:], -1.0, 127 / 128), "SH", -1, 1)
        lines.append(sh)
    if version == 3:
        lines.append("version 3 (gzip): readable by older tools, larger than version 4")
    return lines


def _compressed_ply_losses(scene: GaussianScene) -> list[str]:
    """SuperSplat compressed .ply: per-chunk quantisation, reordered Gaussians."""
    means = scene.means[morton_order(scene.means)]
    bounds = _chunk_bounds(means.astype(np.float64))
    steps = (bounds[:, 3:] - bounds[:, :3]) / np.array([2047.0, 1023.0, 2047.0])  # [C, 3]
    log_scales = scene.stored_log_scales()
    lines = [
        "Gaussians reordered along a Morton curve of their centres, in chunks of 256",
        "positions quantised to 11/10/11 bits of their chunk's range "
        f"(steps up to {float(steps.max()):.3g}, median {float(np.median(steps)):.3g})",
        "log-scales quantised to 11/10/11 bits of their chunk's range"
        + _clamped(
            _outside(log_scales, -LOG_SCALE_LIMIT, LOG_SCALE_LIMIT),
            "log-scales",
            -LOG_SCALE_LIMIT,
            LOG_SCALE_LIMIT,
        ),
        "base colour quantised to 8 bits of its chunk's range, opacity to 8 bits",
        "rotations packed as 'smallest three' (3 x 10 bits: within 0.3 degrees)",
    ]
    if scene.sh_degree > 0:
        lines.append(
            "SH above DC quantised to 8 bits of [-4, 4) (steps of 1/32)"
            + _clamped(_outside(scene.sh[:, 1:], -4.0, 4.0), "SH", -4, 4)
        )
    return lines


def describe_losses(
    scene: GaussianScene, path_or_suffix: str | Path, *, spz_version: int = 4
) -> list[str]:
    """What writing `scene` to `path_or_suffix` loses, one sentence per item.

    An empty list means the file keeps every value bit-exact (INRIA .ply). Camera presets that
    came with the scene (cameras.json) are never written, which is listed too.

    Args:
        scene: the scene to be written.
        path_or_suffix: the output path or its suffix ('.spz', '.compressed.ply', ...).
        spz_version: the .spz version that would be written (3 or 4).

    Raises:
        SceneError: for a format that cannot be written, or positions .spz cannot hold.
    """
    kind = output_format(path_or_suffix)
    if kind is None:
        writable = ", ".join(OUTPUT_FORMATS)
        raise SceneError(path_or_suffix, f"cannot write this format (writable: {writable})")
    if kind == ".spz" and spz_version not in WRITABLE_VERSIONS:
        raise SceneError(path_or_suffix, f"cannot write .spz version {spz_version}")
    lines = {
        ".ply": list,
        ".splat": lambda: _splat_losses(scene),
        ".spz": lambda: _spz_losses(scene, spz_version),
        ".compressed.ply": lambda: _compressed_ply_losses(scene),
        ".sog": lambda: sog_losses(scene),
        "meta.json": lambda: sog_losses(scene),
        "lod-meta.json": lambda: [*sog_losses(scene), STREAMED_LOSS],
        ".glb": lambda: [GLB_LOSS],
    }[kind]()
    if scene.cameras:
        lines.append(f"the {len(scene.cameras)} camera presets are not stored in the file")
    return lines
