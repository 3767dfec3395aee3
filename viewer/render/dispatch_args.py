"""Dispatch-arguments pass: clamp the appended counts, write indirect dispatch sizes."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl

from viewer.render.layout import BINDING_COUNTERS
from viewer.render.programs import compute_shader, set_uniforms


@dataclass(frozen=True)
class DispatchArgsUniforms:
    """The slots the counts are clamped to: splats and (tile, splat) pairs."""

    capacity: int
    pair_capacity: int


class DispatchArgsPass:
    """One GPU thread turns the counters into indirect dispatch arguments; no CPU round trip."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.shader = compute_shader(ctx, "dispatch_args.comp")

    def run(self, counters: moderngl.Buffer, capacity: int, pair_capacity: int) -> None:
        """Update the dispatch words of `counters` in place."""
        counters.bind_to_storage_buffer(BINDING_COUNTERS)
        set_uniforms(self.shader, DispatchArgsUniforms(capacity, pair_capacity))
        self.shader.run(1)
        self.ctx.memory_barrier()
