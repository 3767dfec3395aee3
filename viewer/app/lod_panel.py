"""The panel's "Level of detail" section, below the settings widgets of the `lod` group."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, implot

from viewer.app.commands import Command
from viewer.core.lod_state import LodFacts
from viewer.settings import LodSettings

LEVELS_HEIGHT = 90.0
LOD_ACTIONS = (Command.COMPARE_LOD, Command.SHOW_LOD_LEVELS)


def draw_lod_section(settings: LodSettings, facts: LodFacts, gaussians: int) -> list[Command]:
    """Draw what LOD is doing; returns the actions asked for (names of LOD_ACTIONS).

    Args:
        settings: the LOD settings as edited this frame.
        facts: the tree and the newest frame's cut.
        gaussians: the scene's Gaussians (shares are of them).
    """
    actions: list[Command] = []
    if facts.error:
        imgui.text_wrapped(facts.error)
    if facts.building is not None:
        imgui.progress_bar(facts.building, imgui.ImVec2(-1.0, 0.0),
                           f"building the LOD tree {100 * facts.building:.0f} %")  # fmt: skip
    if facts.nodes:
        imgui.text(f"tree: {facts.nodes:,} merged nodes, {facts.levels} levels")
        imgui.set_item_tooltip(f"the scene's LOD tree, {facts.origin}")
    elif not settings.enabled and facts.building is None:
        imgui.text_disabled("enable to build the LOD tree (cached per scene)")
    if settings.enabled and facts.drawn:
        share = 100.0 * facts.drawn / max(gaussians, 1)
        imgui.text(f"in the cut: {facts.drawn:,} ({share:.1f} %), tau {facts.tau:.3g} px")
        imgui.set_item_tooltip(
            "nodes the newest frame's cut chose, as a share of the Gaussians (before pruning, "
            "the crop box and foveation leave some out)"
        )
        if facts.render_scale < 1.0:
            imgui.text(f"render scale {facts.render_scale:.2f} (stretched to the window)")
        _levels(facts.drawn_per_level)
    if facts.target is not None:
        budget, scale = facts.target
        imgui.text_disabled(
            f"moving: budget {budget:,} at scale {scale:.2f} for {settings.target_fps:g} FPS; "
            "full quality when still"
        )
    if imgui.button("Compare##lod"):
        actions.append(Command.COMPARE_LOD)
    imgui.set_item_tooltip("PSNR / SSIM of this view as drawn against the full render")
    imgui.same_line()
    if imgui.button("Hide levels" if facts.showing_levels else "Show levels"):
        actions.append(Command.SHOW_LOD_LEVELS)
    imgui.set_item_tooltip("heat map of the level drawn (cold: the scene's own Gaussians)")
    if facts.quality is not None:
        imgui.text(f"vs full render: PSNR {facts.quality[0]:.2f} dB, SSIM {facts.quality[1]:.4f}")
    return actions


def _levels(counts: tuple[int, ...]) -> None:
    """Nodes drawn per level as bars (level 0: the scene's own Gaussians)."""
    if not counts or not implot.begin_plot("##lod levels", imgui.ImVec2(-1.0, LEVELS_HEIGHT)):
        return
    flags = implot.AxisFlags_.auto_fit.value
    implot.setup_axes("level", "drawn", flags, flags)
    levels = np.arange(len(counts), dtype=np.float64)
    implot.plot_bars("##drawn", levels, np.asarray(counts, np.float64), 0.7)
    implot.end_plot()
