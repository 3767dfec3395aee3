"""Exclusive prefix sum of one uint per visible splat, on the GPU (scan_*.comp)."""

from __future__ import annotations

import moderngl

from viewer.render.layout import (
    BINDING_BLOCK_SUMS,
    BINDING_COUNTERS,
    BINDING_TILE_COUNTS,
    DISPATCH_SCAN_BLOCKS,
    SCAN_BLOCK,
)
from viewer.render.programs import compute_shader


class PrefixSum:
    """Scans data[0:visible] in place; the total lands in the counters' pair word."""

    def __init__(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.blocks = compute_shader(ctx, "scan_blocks.comp")
        self.block_sums_scan = compute_shader(ctx, "scan_block_sums.comp")
        self.add = compute_shader(ctx, "scan_add.comp")
        self.block_sums: moderngl.Buffer | None = None  # [ceil(capacity / SCAN_BLOCK)] uint32

    def ensure_capacity(self, capacity: int) -> None:
        """Room for `capacity` values."""
        size = max(1, -(-capacity // SCAN_BLOCK)) * 4
        if self.block_sums is None or self.block_sums.size < size:
            if self.block_sums is not None:
                self.block_sums.release()
            self.block_sums = self.ctx.buffer(reserve=size)

    def run(self, data: moderngl.Buffer, counters: moderngl.Buffer) -> None:
        """Scan `data` in place; dispatch sizes come from the counters (indirect)."""
        assert self.block_sums is not None
        counters.bind_to_storage_buffer(BINDING_COUNTERS)
        data.bind_to_storage_buffer(BINDING_TILE_COUNTS)
        self.block_sums.bind_to_storage_buffer(BINDING_BLOCK_SUMS)
        offset = DISPATCH_SCAN_BLOCKS * 4
        self.blocks.run_indirect(counters, offset)
        self.ctx.memory_barrier()
        self.block_sums_scan.run(1)
        self.ctx.memory_barrier()
        self.add.run_indirect(counters, offset)
        self.ctx.memory_barrier()

    def release(self) -> None:
        """Free GL objects."""
        for obj in (self.blocks, self.block_sums_scan, self.add, self.block_sums):
            if obj is not None:
                obj.release()
