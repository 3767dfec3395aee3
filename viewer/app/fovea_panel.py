"""The panel's "Foveation" section, below the settings widgets of the `fov` group."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui

from viewer.app.commands import Command
from viewer.core.fovea_state import FoveaFacts, RegionQuality
from viewer.features.presets import PRESETS
from viewer.settings import FoveationSettings

FOVEA_ACTIONS = (Command.COMPARE_FOVEA, Command.APPLY_PRESET)
OUTLINE_COLOUR = imgui.ImVec4(1.0, 1.0, 1.0, 0.55)
OUTLINE_THICKNESS = 1.5
GAZE_RADIUS = 5.0


def draw_fovea_section(
    settings: FoveationSettings, facts: FoveaFacts
) -> list[tuple[Command, str | None]]:
    """Draw what foveation is doing; returns the actions asked for, with their arguments.

    Args:
        settings: the foveation settings as edited this frame.
        facts: the subsets' state, the newest frame and the last readout.
    """
    actions: list[tuple[Command, str | None]] = []
    if facts.waiting:
        imgui.text_disabled(facts.waiting)
    if settings.enabled and facts.culled:
        imgui.text(f"left out in view: {facts.culled:,} Gaussians")
        imgui.set_item_tooltip("Gaussians in view that no level reached by them keeps")
    if imgui.button("Compare##fovea"):
        actions.append((Command.COMPARE_FOVEA, None))
    imgui.set_item_tooltip(
        "PSNR / SSIM of the fovea and of the periphery against the full render (no foveation, "
        "LOD or pruning), and the frame-time ratio"
    )
    for name in PRESETS:
        imgui.same_line()
        if imgui.button(f"Preset: {name}"):
            actions.append((Command.APPLY_PRESET, name))
        imgui.set_item_tooltip(f"set LOD, foveation and pruning to the {name} preset")
    if facts.quality is not None:
        _readout(facts.quality)
    return actions


def psnr_text(psnr: float) -> str:
    """A PSNR as text: "identical" for equal images, "-" for a region without pixels."""
    if psnr == float("inf"):
        return "identical"
    return "-" if psnr != psnr else f"{psnr:6.2f} dB"


def _readout(quality: RegionQuality) -> None:
    """The last comparison, a line per region and the frame times."""
    for name, (psnr, ssim) in (
        ("fovea", quality.fovea),
        ("periphery", quality.periphery),
        ("whole", quality.whole),
    ):
        imgui.text(f"{name:<9} PSNR {psnr_text(psnr)}  SSIM {ssim:.4f}")
    imgui.text(
        f"frame time x{quality.time_ratio:.2f} "
        f"({quality.drawn_ms:.1f} ms vs {quality.full_ms:.1f} ms in full)"
    )


def draw_outlines(
    lines: list[np.ndarray], gaze: tuple[float, float], to_window: tuple[float, float]
) -> None:
    """The level borders and the gaze over the view, behind every UI window.

    Args:
        lines: closed polylines in image pixels (`FoveaState.outlines`).
        gaze: the gaze in image pixels.
        to_window: window units per image pixel in x and y (HiDPI: not 1).
    """
    if not lines:
        return
    draw = imgui.get_background_draw_list()
    colour = imgui.get_color_u32(OUTLINE_COLOUR)
    sx, sy = to_window
    for line in lines:
        points: list[imgui.ImVec2Like] = [(float(x) * sx, float(y) * sy) for x, y in line]
        draw.add_polyline(points, colour, OUTLINE_THICKNESS, imgui.ImDrawFlags_.closed.value)
    draw.add_circle(imgui.ImVec2(gaze[0] * sx, gaze[1] * sy), GAZE_RADIUS, colour)
