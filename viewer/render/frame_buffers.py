"""Per-frame GPU buffers of the visible splats: counters, splat records, sort keys and values."""

from __future__ import annotations

import moderngl
import numpy as np

from viewer.render.layout import (
    BINDING_COUNTERS,
    BINDING_DEPTH_KEYS,
    BINDING_GAUSSIAN_IDS,
    BINDING_SORTED_SPLATS,
    BINDING_SPLATS,
    COUNTER_VISIBLE,
    COUNTER_WORDS,
    SPLAT_DTYPE,
    initial_counters,
)


class FrameBuffers:
    """Buffers the preprocess pass appends to, sized for `capacity` visible splats."""

    def __init__(self, ctx: moderngl.Context, capacity: int, max_block_bytes: int) -> None:
        self.ctx = ctx
        self.capacity = max(1, min(capacity, max_block_bytes // SPLAT_DTYPE.itemsize))
        self.counters = ctx.buffer(initial_counters().tobytes())  # [COUNTER_WORDS] uint32
        self.splats = ctx.buffer(reserve=self.capacity * SPLAT_DTYPE.itemsize)  # [cap] Splat
        self.depth_keys = ctx.buffer(reserve=self.capacity * 4)  # [cap] uint32 float bits
        self.sorted_splats = ctx.buffer(reserve=self.capacity * 4)  # [cap] uint32 splat_from_sorted
        self.gaussian_ids = ctx.buffer(
            reserve=self.capacity * 4
        )  # [cap] uint32 gaussian_from_splat
        self._initial = initial_counters().tobytes()

    @property
    def nbytes(self) -> int:
        """GPU memory held."""
        return sum(b.size for b in self._buffers())

    def _buffers(self) -> tuple[moderngl.Buffer, ...]:
        return (self.counters, self.splats, self.depth_keys, self.sorted_splats, self.gaussian_ids)

    def reset(self) -> None:
        """Zero the counters for a new frame."""
        self.counters.write(self._initial)

    def bind(self) -> None:
        """Bind every buffer at its layout binding point."""
        self.counters.bind_to_storage_buffer(BINDING_COUNTERS)
        self.splats.bind_to_storage_buffer(BINDING_SPLATS)
        self.depth_keys.bind_to_storage_buffer(BINDING_DEPTH_KEYS)
        self.sorted_splats.bind_to_storage_buffer(BINDING_SORTED_SPLATS)
        self.gaussian_ids.bind_to_storage_buffer(BINDING_GAUSSIAN_IDS)

    def read_counters(self) -> np.ndarray:
        """[COUNTER_WORDS] uint32 (waits for the GPU)."""
        return np.frombuffer(self.counters.read(), dtype=np.uint32, count=COUNTER_WORDS).copy()

    def visible_count(self) -> int:
        """How many splats preprocess kept (waits for the GPU)."""
        word = self.counters.read(4, offset=COUNTER_VISIBLE * 4)
        return int(np.frombuffer(word, dtype=np.uint32)[0])

    def read_splats(self, count: int) -> np.ndarray:
        """[count] SPLAT_DTYPE records, in append order (validation and tests)."""
        if count == 0:
            return np.zeros(0, SPLAT_DTYPE)
        return np.frombuffer(self.splats.read(size=count * SPLAT_DTYPE.itemsize), SPLAT_DTYPE)

    def read_uint(self, buffer: moderngl.Buffer, count: int) -> np.ndarray:
        """[count] uint32 from one of the buffers."""
        if count == 0:
            return np.zeros(0, np.uint32)
        return np.frombuffer(buffer.read(size=count * 4), dtype=np.uint32).copy()

    def release(self) -> None:
        """Free the GPU memory."""
        for buffer in self._buffers():
            buffer.release()
