"""The timing overlay: FPS, frame-time graph with per-pass times stacked, counts and clock.

Reads the same `StatsHistory` of `FrameStats` that the benchmark summarises.
"""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, implot

from viewer.stats import StatsHistory, summarize

OVERLAY_WIDTH = 420.0
GRAPH_HEIGHT = 160.0
GRAPH_FRAMES = 240  # frames the graph shows (drawing 600 cost 2 ms of a UI frame)
RECENT_FRAMES = 60  # the numbers are of these last frames (a slow first frame, compiling, ages out)
GRAPH_SPAN = 3.0  # the graph's ms axis reaches this times the p90 frame (a spike is cut off)
MARGIN = 8.0
OVERLAY_TITLE = "timing"


def stacked_passes(history: StatsHistory) -> tuple[list[str], np.ndarray]:
    """Pass names (in pipeline order) and [P + 1, F] float64 cumulative device times.

    Row 0 is zeros, row i the sum of the first i passes of each of the F frames, so pass i
    fills the band between rows i and i + 1.
    """
    names = list(history.pass_means())
    per_pass = np.array(
        [[frame.pass_ms.get(name, 0.0) for frame in history.frames] for name in names],
        dtype=np.float64,
    ).reshape(len(names), len(history.frames))
    zeros = np.zeros((1, per_pass.shape[1]))
    return names, np.concatenate([zeros, np.cumsum(per_pass, axis=0)])


def recent_frames(history: StatsHistory) -> tuple[StatsHistory, dict[str, float]]:
    """The last RECENT_FRAMES frames and the summary of their frame times (`summarize`)."""
    recent = history.tail(RECENT_FRAMES)
    return recent, summarize(recent.frame_ms())


def draw_overlay(history: StatsHistory, backend: str, sort: str, gaussians: int) -> None:
    """Draw the overlay in the window's top right corner.

    Args:
        history: the frames' stats.
        backend: the raster backend in use and why (`SplatRenderer.backend_reason`).
        sort: the sort in use.
        gaussians: the scene's own Gaussians (a frame's rows count merged LOD nodes too).
    """
    viewport = imgui.get_main_viewport()
    corner = imgui.ImVec2(viewport.work_pos.x + viewport.work_size.x - MARGIN, MARGIN)
    imgui.set_next_window_pos(corner, imgui.Cond_.always, imgui.ImVec2(1.0, 0.0))
    imgui.set_next_window_size(imgui.ImVec2(OVERLAY_WIDTH, 0.0))
    imgui.set_next_window_bg_alpha(0.7)
    flags = (
        imgui.WindowFlags_.no_decoration.value
        | imgui.WindowFlags_.no_focus_on_appearing.value
        | imgui.WindowFlags_.no_nav.value
    )
    imgui.begin(OVERLAY_TITLE, None, flags)
    latest = history.latest
    imgui.text(f"UI loop {imgui.get_io().framerate:5.1f} FPS")
    if latest is None:
        imgui.text("splats: no frame timed yet")
        imgui.end()
        return
    recent, frame = recent_frames(history)
    imgui.text(f"splats {1e3 / frame['mean']:5.1f} FPS  frame {frame['mean']:.2f} ms")
    imgui.text(
        f"  p90 {frame['p90']:.2f}, max {frame['max']:.2f} ms over the last "
        f"{len(recent.frames)} frames"
    )
    imgui.text_wrapped(f"{backend} raster, {sort} sort, clock {latest.clock}")
    nodes = latest.total - gaussians
    imgui.text_wrapped(
        f"visible {latest.visible:,} of {gaussians:,} Gaussians"
        + (f" + {nodes:,} merged" if nodes > 0 else "")
    )
    if latest.pairs or latest.dropped:
        imgui.text(
            f"pairs {latest.pairs:,}" + (f", dropped {latest.dropped:,}" if latest.dropped else "")
        )
    if latest.lod_drawn or latest.render_scale < 1.0:
        imgui.text(
            f"LOD: drawn {latest.lod_drawn:,}, tau {latest.lod_tau:.3g} px, "
            f"render scale {latest.render_scale:.2f}"
        )
    if latest.fovea_culled:
        imgui.text(f"foveation: {latest.fovea_culled:,} in view left out")
    _graph(history.tail(GRAPH_FRAMES), frame["p90"])
    means = {n: ms for n, ms in recent.pass_means().items() if n in latest.pass_ms}  # run now
    total = sum(means.values()) or 1.0
    for name, ms in means.items():
        imgui.text(f"  {name:<11} {ms:8.2f} ms  {100.0 * ms / total:5.1f} %")
    imgui.end()


def _graph(history: StatsHistory, p90_ms: float) -> None:
    """Per-pass device times stacked as bands, the whole frame's host time as a line.

    The ms axis reaches GRAPH_SPAN x the recent p90 frame, so one slow frame (the first, which
    compiles) does not flatten the rest for the whole history.
    """
    if not implot.begin_plot("##frame times", imgui.ImVec2(-1.0, GRAPH_HEIGHT)):
        return
    implot.setup_axes("frame", "ms", implot.AxisFlags_.auto_fit.value, 0)
    implot.setup_axis_limits(
        implot.ImAxis_.y1.value, 0.0, GRAPH_SPAN * p90_ms, implot.Cond_.always.value
    )
    # beside the graph, one pass a row: a row of all of them was cut off once LOD and binning
    # passes joined
    implot.setup_legend(implot.Location_.east.value, implot.LegendFlags_.outside.value)
    names, stack = stacked_passes(history)
    xs = np.array([f.frame for f in history.frames], dtype=np.float64)
    for i, name in enumerate(names):
        implot.plot_shaded(name, xs, stack[i], stack[i + 1])
    implot.plot_line("frame", xs, history.frame_ms())
    implot.end_plot()


def append_overlay_lines(lines: list[str]) -> None:
    """Add lines at the end of the overlay drawn this frame (e.g. the live view's upload)."""
    imgui.begin(OVERLAY_TITLE)
    for line in lines:
        imgui.text(line)
    imgui.end()
