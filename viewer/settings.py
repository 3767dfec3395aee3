"""Render settings as frozen dataclasses split by concern.

Each field carries one description (help, unit, range or choices) in its metadata; the CLI flags,
the ImGui widgets and the bench config keys are all generated from it (see `viewer.setting_specs`).
Change settings with `dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def setting(
    default: Any,
    help: str,
    *,
    unit: str = "",
    range: tuple[float, float] | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field with its one description: help text, unit, numeric range or choices."""
    meta = {"help": help, "unit": unit, "range": range, "choices": choices}
    return field(default=default, metadata=meta)


RENDER_MODES = ("colour", "depth", "heatmap", "points", "outlines", "overdraw")
HEATMAP_SCALARS = ("opacity", "size", "volume", "significance", "efficiency")  # + pruning scores


@dataclass(frozen=True)
class RenderSettings:
    """How Gaussians become an image; shared by the GPU pipeline and the CPU reference.

    The reference renders mode "colour" only; the other modes are GPU views for inspection.
    """

    mode: str = setting(
        "colour",
        "what to show: SH colour; colour by camera depth; colour by a per-Gaussian value "
        "(heatmap); centres as dots; ellipse outlines; overdraw (splats blended per pixel)",
        choices=RENDER_MODES,
    )
    heatmap: str = setting(
        "opacity",
        "the per-Gaussian value the heatmap mode shows (size: largest scale; volume, "
        "significance, efficiency: pruning scores; log scales but opacity)",
        choices=HEATMAP_SCALARS,
    )
    point_size: float = setting(3.0, "dot size of the points mode", unit="pixels", range=(1, 16))

    sh_degree: int = setting(3, "highest SH degree evaluated (capped by the scene's)", range=(0, 3))
    background: tuple[float, float, float] = setting(
        (0.0, 0.0, 0.0), "background colour, linear RGB in [0, 1]", range=(0.0, 1.0)
    )
    splat_scale: float = setting(1.0, "multiplier on every Gaussian's scale", range=(0.05, 4.0))
    antialias: bool = setting(
        False, "Mip-Splatting opacity compensation for the 0.3 px low-pass filter"
    )
    near_plane: float = setting(
        0.2,
        "Gaussians with camera depth at or below this are culled",
        unit="world units",
        range=(0.001, 10.0),
    )
    guard_band: float = setting(
        0.0,
        "opt-in speed-up: also cull Gaussians whose centre lies beyond this multiple of the half "
        "field of view (0: off; the original 3DGS culls only at the near plane, then drops "
        "splats whose footprint misses the image)",
        range=(0.0, 10.0),
    )


@dataclass(frozen=True)
class RasterSettings:
    """Which GPU implementation runs the sort and raster passes."""

    backend: str = setting(
        "auto",
        "raster backend: instanced quads, 16x16 compute tiles, or pick per device",
        choices=("auto", "quads", "tiles"),
    )
    sort: str = setting(
        "auto",
        "depth sort: GPU radix sort, CPU (numpy), or pick per device",
        choices=("auto", "gpu", "cpu"),
    )
    validate: bool = setting(
        False, "read intermediates back every frame and check invariants (slow; tests)"
    )
