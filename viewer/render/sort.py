"""Stable key-value sorts of uint32 arrays in GL buffers, with the key count on the GPU.

The preprocess pass appends visible Gaussians with an atomic counter, so the number of keys to
sort lives in a GPU buffer. `GpuRadixSort` sorts without reading it back (dispatch sizes come from
the GPU); `CpuSort` reads everything back and sorts with numpy, which beats any shader sort on
software rasterizers such as llvmpipe. Both sort in place and keep equal keys in input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import moderngl
import numpy as np

from viewer.render.context import DeviceInfo
from viewer.render.programs import compute_shader, set_uniforms

THREADS = 256  # invocations per workgroup of the block passes
ITEMS = 16  # keys per invocation: a block of THREADS * ITEMS keys per workgroup
RADIX_BITS = 8  # key bits sorted per pass
SPLIT_BITS = 4  # key bits per round of the in-workgroup sort of a pass
BLOCK = THREADS * ITEMS
RADIX = 1 << RADIX_BITS


class Binding(IntEnum):
    """Shader storage binding points of the sort passes (BINDING_<name> in the shaders)."""

    KEYS_IN = 0
    VALUES_IN = 1
    KEYS_OUT = 2
    VALUES_OUT = 3
    BLOCK_COUNTS = 4
    STATE = 5
    COUNT = 6


SHADER_DEFINES = {
    "THREADS": THREADS,
    "ITEMS": ITEMS,
    "RADIX_BITS": RADIX_BITS,
    "SPLIT_BITS": SPLIT_BITS,
    **{f"BINDING_{binding.name}": int(binding) for binding in Binding},
}
STATE_BYTES = 4 * (5 + RADIX)  # uint dispatch_args[3], count, num_blocks, digit_totals[RADIX]
_SSBO = moderngl.SHADER_STORAGE_BARRIER_BIT
_SSBO_AND_COMMAND = moderngl.SHADER_STORAGE_BARRIER_BIT | moderngl.COMMAND_BARRIER_BIT

SORT_KINDS = ("auto", "gpu", "cpu")


class KeyValueSort(Protocol):
    """What the pipeline needs from a sort backend."""

    def sort(
        self,
        keys: moderngl.Buffer,
        values: moderngl.Buffer,
        count: moderngl.Buffer,
        count_offset: int = 0,
        key_bits: int = 32,
    ) -> None:
        """Sort keys[0:count] ascending with values alongside, in place (`GpuRadixSort.sort`)."""

    def ensure_capacity(self, capacity: int) -> None:
        """Make room to sort at least `capacity` pairs."""

    def trim(self, capacity: int) -> None:
        """Free the room beyond `capacity` pairs (it grows again on demand)."""

    @property
    def nbytes(self) -> int:
        """GPU memory held by the sort's own buffers."""
        ...

    def release(self) -> None:
        """Free the GL objects."""


def _check_args(count_offset: int, key_bits: int) -> None:
    if not 1 <= key_bits <= 32:
        raise ValueError(f"key_bits must be in 1..32, got {key_bits}")
    if count_offset < 0 or count_offset % 4:
        raise ValueError(f"count_offset must be a non-negative multiple of 4, got {count_offset}")


def _pair_capacity(keys: moderngl.Buffer, values: moderngl.Buffer) -> int:
    return min(keys.size, values.size) // 4


def _program(ctx: moderngl.Context, name: str) -> moderngl.ComputeShader:
    return compute_shader(ctx, name, SHADER_DEFINES, layout=False)


@dataclass(frozen=True)
class SortSetupUniforms:
    """sort_setup.comp: where the count is (word index) and how many pairs the buffers hold."""

    u_count_index: int
    u_capacity: int


@dataclass(frozen=True)
class SortPassUniforms:
    """sort_histogram.comp and sort_scatter.comp: which RADIX_BITS-bit digit, lowest first."""

    u_pass: int


class GpuRadixSort:
    """Stable LSD radix sort of uint32 key-value pairs in GLSL compute.

    Per pass of RADIX_BITS key bits: `sort_histogram.comp` counts each block's digits,
    `sort_scan.comp` turns the counts into offsets (one workgroup per digit), `sort_scatter.comp`
    sorts each block in shared memory and writes it out coalesced; passes ping-pong between the
    caller's buffers and scratch ones, and `sort_copy.comp` brings the result back after an odd
    number of passes. `sort_setup.comp` first turns the GPU-side count into dispatch sizes. Needs
    no subgroup operations, so it runs on any GL 4.3 device.
    """

    def __init__(self, ctx: moderngl.Context, capacity: int) -> None:
        """Compile the passes and allocate scratch for `capacity` pairs (grown on demand)."""
        self._ctx = ctx
        device = DeviceInfo.of(ctx)
        self._max_pairs = min(device.max_ssbo_bytes // 4, device.max_workgroups_x * BLOCK)
        self._setup = _program(ctx, "sort_setup.comp")
        self._histogram = _program(ctx, "sort_histogram.comp")
        self._scan = _program(ctx, "sort_scan.comp")
        self._scatter = _program(ctx, "sort_scatter.comp")
        self._copy = _program(ctx, "sort_copy.comp")
        self._state = ctx.buffer(reserve=STATE_BYTES)
        self.capacity = 0
        self._scratch: list[moderngl.Buffer] = []
        self.ensure_capacity(capacity)

    def ensure_capacity(self, capacity: int) -> None:
        """Grow the scratch buffers to hold at least `capacity` pairs."""
        if self._scratch and capacity <= self.capacity:
            return
        capacity = max(capacity, 1)
        if capacity > self._max_pairs:
            raise ValueError(
                f"cannot sort {capacity} pairs: one GL buffer holds at most {self._max_pairs}"
            )
        self._release_scratch()
        blocks = -(-capacity // BLOCK)
        self._scratch = [
            self._ctx.buffer(reserve=4 * capacity),  # [capacity] uint32 keys
            self._ctx.buffer(reserve=4 * capacity),  # [capacity] uint32 values
            self._ctx.buffer(reserve=4 * RADIX * blocks),  # [RADIX * blocks] uint32
        ]
        self.capacity = capacity

    def trim(self, capacity: int) -> None:
        """Shrink the scratch buffers to `capacity` pairs when they hold more."""
        if self.capacity > max(capacity, 1):
            self._release_scratch()
            self.ensure_capacity(capacity)

    @property
    def nbytes(self) -> int:
        """GPU memory held by the scratch and state buffers."""
        return self._state.size + sum(buffer.size for buffer in self._scratch)

    def sort(
        self,
        keys: moderngl.Buffer,
        values: moderngl.Buffer,
        count: moderngl.Buffer,
        count_offset: int = 0,
        key_bits: int = 32,
    ) -> None:
        """Sort keys[0:count] ascending with values alongside, in place; count is read on the GPU.

        Args:
            keys: [capacity] uint32 keys, each below 2**key_bits.
            values: [capacity] uint32 values, moved with their keys.
            count: holds the uint32 number of pairs to sort at byte `count_offset`; counts above
                the buffers' capacity are clamped to it.
            count_offset: byte offset of the count in `count`, a multiple of 4.
            key_bits: how many low key bits to sort by; fewer bits take fewer passes.
        """
        _check_args(count_offset, key_bits)
        capacity = _pair_capacity(keys, values)
        self.ensure_capacity(capacity)
        ctx = self._ctx
        keys_tmp, values_tmp, block_counts = self._scratch
        ctx.memory_barrier()  # whatever wrote keys, values or count is visible to the passes

        count.bind_to_storage_buffer(Binding.COUNT)
        self._state.bind_to_storage_buffer(Binding.STATE)
        block_counts.bind_to_storage_buffer(Binding.BLOCK_COUNTS)
        set_uniforms(self._setup, SortSetupUniforms(count_offset // 4, capacity))
        self._setup.run(1)
        ctx.memory_barrier(_SSBO_AND_COMMAND)

        src, dst = (keys, values), (keys_tmp, values_tmp)
        passes = -(-key_bits // RADIX_BITS)
        for pass_index in range(passes):
            self._bind_pair(src, dst)
            set_uniforms(self._histogram, SortPassUniforms(pass_index))
            set_uniforms(self._scatter, SortPassUniforms(pass_index))
            self._histogram.run_indirect(self._state)
            ctx.memory_barrier(_SSBO)
            self._scan.run(RADIX)
            ctx.memory_barrier(_SSBO)
            self._scatter.run_indirect(self._state)
            ctx.memory_barrier(_SSBO)
            src, dst = dst, src
        if passes % 2:
            self._bind_pair(src, dst)
            self._copy.run_indirect(self._state)
        ctx.memory_barrier()  # results visible to any later use of keys and values

    def release(self) -> None:
        """Free the GL objects."""
        self._release_scratch()
        for obj in (self._setup, self._histogram, self._scan, self._scatter, self._copy):
            obj.release()
        self._state.release()

    @staticmethod
    def _bind_pair(
        src: tuple[moderngl.Buffer, moderngl.Buffer], dst: tuple[moderngl.Buffer, moderngl.Buffer]
    ) -> None:
        src[0].bind_to_storage_buffer(Binding.KEYS_IN)
        src[1].bind_to_storage_buffer(Binding.VALUES_IN)
        dst[0].bind_to_storage_buffer(Binding.KEYS_OUT)
        dst[1].bind_to_storage_buffer(Binding.VALUES_OUT)

    def _release_scratch(self) -> None:
        for buffer in self._scratch:
            buffer.release()
        self._scratch = []
        self.capacity = 0


class CpuSort:
    """Reads the pairs back, sorts them with numpy and writes them back.

    On llvmpipe this beats any shader sort. It reads the count, so it stalls the pipeline: the
    fallback and software-GL path.
    """

    def sort(
        self,
        keys: moderngl.Buffer,
        values: moderngl.Buffer,
        count: moderngl.Buffer,
        count_offset: int = 0,
        key_bits: int = 32,
    ) -> None:
        """Same contract as `GpuRadixSort.sort`."""
        _check_args(count_offset, key_bits)
        n = min(
            int(np.frombuffer(count.read(4, offset=count_offset), np.uint32)[0]),
            _pair_capacity(keys, values),
        )
        if n < 2:
            return
        sorted_keys, sorted_values = sort_arrays(
            np.frombuffer(keys.read(4 * n), np.uint32), np.frombuffer(values.read(4 * n), np.uint32)
        )
        keys.write(sorted_keys)
        values.write(sorted_values)

    def ensure_capacity(self, capacity: int) -> None:
        """Nothing to allocate."""

    def trim(self, capacity: int) -> None:
        """Nothing to free."""

    @property
    def nbytes(self) -> int:
        """No GPU memory of its own."""
        return 0

    def release(self) -> None:
        """Nothing to free."""


def sort_arrays(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stable sort of [n] uint32 keys with [n] uint32 values alongside, on the CPU.

    Sorts (key << 32 | index) as uint64: unique, so an unstable sort is stable on the keys, and
    numpy's SIMD sort of uint64 beats its stable argsort of uint32 (timsort) about tenfold.
    """
    n = len(keys)
    # [n, 2] uint32 (index, key), read as [n] little-endian uint64 key << 32 | index
    words = np.empty(2 * n, np.uint32)
    words[0::2] = np.arange(n, dtype=np.uint32)
    words[1::2] = keys
    words.view(np.uint64).sort()
    return words[1::2].copy(), values[words[0::2]]


def choose_sort(kind: str, device: DeviceInfo) -> str:
    """Resolve a sort setting ("auto", "gpu" or "cpu") to "gpu" or "cpu" for this device."""
    if kind not in SORT_KINDS:
        raise ValueError(f"sort must be one of {SORT_KINDS}, got {kind!r}")
    if kind == "auto":
        return "cpu" if device.is_software else "gpu"
    return kind


def make_sort(ctx: moderngl.Context, backend: str, capacity: int) -> KeyValueSort:
    """A sort backend from `choose_sort`'s answer."""
    if backend == "gpu":
        return GpuRadixSort(ctx, capacity)
    if backend == "cpu":
        return CpuSort()
    raise ValueError(f"sort backend must be 'gpu' or 'cpu', got {backend!r}")


def sort_pairs(
    ctx: moderngl.Context, keys: np.ndarray, values: np.ndarray, backend: str
) -> tuple[np.ndarray, np.ndarray]:
    """Sort [n] uint32 keys and values through GL buffers with a backend; for tests and benches."""
    n = len(keys)
    if n == 0:
        return keys.copy(), values.copy()
    buffers = [ctx.buffer(np.asarray(a, np.uint32)) for a in (keys, values, [n])]
    sorter = make_sort(ctx, backend, n)
    try:
        sorter.sort(buffers[0], buffers[1], buffers[2])
        sorted_keys, sorted_values = (np.frombuffer(b.read(4 * n), np.uint32) for b in buffers[:2])
        return sorted_keys, sorted_values
    finally:
        sorter.release()
        for buffer in buffers:
            buffer.release()
