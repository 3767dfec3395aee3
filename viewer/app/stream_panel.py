"""The panel's "Streaming" section and the overlay's line about a streamed scene's chunks."""

from __future__ import annotations

from imgui_bundle import imgui

from viewer.stream.scene_stream import StreamFacts

MIB = 2**20


def draw_stream_section(facts: StreamFacts | None) -> None:
    """Draw what the stream holds and does (below the `stream` settings' widgets)."""
    if facts is None:
        imgui.text_disabled("for streamed SOG scenes (lod-meta.json); this one is held whole")
        return
    imgui.text(f"{facts.gaussians:,} Gaussians in {facts.leaves:,} leaves x {facts.levels} levels")
    imgui.text(f"drawn {facts.drawn:,}; leaves per level {', '.join(map(str, facts.by_level))}")
    imgui.set_item_tooltip("level 0 is the finest: each leaf is drawn at the level it has now")
    _memory("GPU", facts.gpu_bytes, facts.gpu_budget)
    _memory("host", facts.host_bytes, facts.host_budget)
    imgui.text(
        f"chunks: {facts.held} held, {facts.pending} loading, {facts.loads} read, "
        f"{facts.evictions} evicted"
    )
    imgui.set_item_tooltip(
        "chunk files decoded in host memory, reads under way or queued, reads so far, and "
        "files dropped (least recently used) to stay within the host budget"
    )
    if facts.waiting:
        imgui.text_disabled(f"refining: {facts.waiting} leaves wait for their chunks")
    if facts.note:
        imgui.text_wrapped(facts.note)
    for line in facts.failures[:4]:
        imgui.text_colored(imgui.ImVec4(1.0, 0.45, 0.35, 1.0), "could not read " + line)
        imgui.set_item_tooltip("its leaves stay drawn at a coarser level")
    if len(facts.failures) > 4:
        imgui.text_disabled(f"and {len(facts.failures) - 4} more chunks")


def _memory(what: str, used: int, budget: int) -> None:
    line = imgui.ImVec2(-1.0, imgui.get_text_line_height())
    text = f"{what} {used / MIB:,.0f} of {budget / MIB:,.0f} MiB"
    imgui.progress_bar(used / max(budget, 1), line, text)


def stream_overlay_line(facts: StreamFacts) -> str:
    """One overlay line: chunks loading, the newest read's time, what failed."""
    line = f"stream: {facts.drawn:,} drawn, {facts.pending} loading"
    if facts.loads:
        line += f", last chunk read in {facts.load_ms:.0f} ms"
    if facts.failures:
        line += f", {len(facts.failures)} failed"
    return line
