"""Key-value sorts of GL buffers (GPU radix and CPU numpy) against numpy's stable argsort."""

from __future__ import annotations

from collections.abc import Iterator

import moderngl
import numpy as np
import pytest

from viewer.render.context import DeviceInfo
from viewer.render.sort import (
    BLOCK,
    RADIX,
    SHADER_DEFINES,
    STATE_BYTES,
    CpuSort,
    GpuRadixSort,
    KeyValueSort,
    choose_sort,
    make_sort,
    sort_pairs,
)
from viewer.resources import shader_dir

SENTINEL = 0xDEADBEEF  # fills count buffers around the count word


@pytest.fixture(scope="module", params=["gpu", "cpu"])
def sorter(request: pytest.FixtureRequest, gl_ctx: moderngl.Context) -> Iterator[KeyValueSort]:
    backend = make_sort(gl_ctx, request.param, 2 * BLOCK)
    yield backend
    backend.release()


@pytest.fixture
def rng() -> np.random.Generator:
    seed = np.random.SeedSequence().entropy
    print(f"random seed: {seed}")  # shown by pytest when the test fails
    return np.random.default_rng(seed)


def random_keys(rng: np.random.Generator, n: int, key_bits: int, ties: bool) -> np.ndarray:
    """[n] uint32 keys below 2**key_bits; with `ties`, only 20 distinct values spread over them."""
    if ties:
        return rng.choice(rng.integers(0, 2**key_bits, 20, dtype=np.uint32), n)
    return rng.integers(0, 2**key_bits, n, dtype=np.uint32)


def sort_in_buffers(
    gl_ctx: moderngl.Context,
    sorter: KeyValueSort,
    keys: np.ndarray,
    values: np.ndarray,
    count: int,
    count_offset: int = 0,
    key_bits: int = 32,
) -> tuple[np.ndarray, np.ndarray]:
    """Upload [capacity] keys and values, sort the first `count`, return the buffers' contents."""
    count_words = np.full(count_offset // 4 + 4, SENTINEL, np.uint32)  # [words] uint32
    count_words[count_offset // 4] = count
    buffers = [gl_ctx.buffer(keys), gl_ctx.buffer(values), gl_ctx.buffer(count_words)]
    sorter.sort(*buffers, count_offset=count_offset, key_bits=key_bits)
    sorted_keys, sorted_values, after = (np.frombuffer(b.read(), np.uint32) for b in buffers)
    np.testing.assert_array_equal(after, count_words, err_msg="the count buffer changed")
    for buffer in buffers:
        buffer.release()
    return sorted_keys, sorted_values


def expected(keys: np.ndarray, values: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` pairs stably sorted by key, the rest as they were."""
    order = np.argsort(keys[:count], kind="stable")
    return (
        np.concatenate([keys[:count][order], keys[count:]]),
        np.concatenate([values[:count][order], values[count:]]),
    )


def check_sort(
    gl_ctx: moderngl.Context,
    sorter: KeyValueSort,
    keys: np.ndarray,
    count: int,
    count_offset: int = 0,
    key_bits: int = 32,
) -> None:
    """Sort keys[:count] with distinct values alongside and compare with numpy, stability too."""
    values = np.random.default_rng(len(keys)).permutation(len(keys)).astype(np.uint32)
    got = sort_in_buffers(gl_ctx, sorter, keys, values, count, count_offset, key_bits)
    want = expected(keys, values, min(count, len(keys)))
    np.testing.assert_array_equal(got[0], want[0], err_msg="keys")
    np.testing.assert_array_equal(got[1], want[1], err_msg="values (stability)")


@pytest.mark.parametrize("ties", [False, True], ids=["spread", "ties"])
@pytest.mark.parametrize("key_bits", [16, 32])
@pytest.mark.parametrize(
    "count", [0, 1, 2, 7, 999, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK - 1, 3 * BLOCK + 5]
)
def test_random_keys_match_stable_argsort(
    gl_ctx: moderngl.Context,
    sorter: KeyValueSort,
    rng: np.random.Generator,
    count: int,
    key_bits: int,
    ties: bool,
) -> None:
    capacity = count + int(rng.integers(1, 300))  # pairs past the count must stay untouched
    check_sort(gl_ctx, sorter, random_keys(rng, capacity, key_bits, ties), count, key_bits=key_bits)


@pytest.mark.parametrize(
    "pattern", ["sorted", "reversed", "all_equal", "top_bit", "all_ones", "one_digit"]
)
def test_key_patterns(
    gl_ctx: moderngl.Context, sorter: KeyValueSort, rng: np.random.Generator, pattern: str
) -> None:
    n = 2 * BLOCK + 17
    keys = rng.integers(0, 2**32, n, dtype=np.uint32)
    keys = {
        "sorted": np.sort(keys),
        "reversed": np.sort(keys)[::-1].copy(),
        "all_equal": np.full(n, keys[0], np.uint32),
        "top_bit": keys | np.uint32(1 << 31),
        "all_ones": np.full(n, 0xFFFFFFFF, np.uint32),
        "one_digit": keys & np.uint32(0xF0),  # every pass but one sees a single bucket
    }[pattern]
    check_sort(gl_ctx, sorter, keys, n)


@pytest.mark.parametrize("key_bits", [1, 7, 8, 9, 13, 20, 24])
def test_key_bits_below_32(
    gl_ctx: moderngl.Context, sorter: KeyValueSort, rng: np.random.Generator, key_bits: int
) -> None:
    # Odd pass counts (up to 8 and 17 to 24 bits) end in the scratch buffers and are copied back.
    keys = random_keys(rng, BLOCK + 500, key_bits, ties=False)
    check_sort(gl_ctx, sorter, keys, BLOCK + 321, key_bits=key_bits)


@pytest.mark.parametrize("count_offset", [4, 36])
def test_count_read_at_offset(
    gl_ctx: moderngl.Context, sorter: KeyValueSort, rng: np.random.Generator, count_offset: int
) -> None:
    keys = random_keys(rng, 3000, 32, ties=True)
    check_sort(gl_ctx, sorter, keys, 2500, count_offset=count_offset)


def test_count_above_capacity_sorts_whole_buffers(
    gl_ctx: moderngl.Context, sorter: KeyValueSort, rng: np.random.Generator
) -> None:
    keys = random_keys(rng, 1000, 32, ties=False)
    check_sort(gl_ctx, sorter, keys, 5000)


def test_buffers_larger_than_capacity_and_repeated_sorts(
    gl_ctx: moderngl.Context, rng: np.random.Generator
) -> None:
    gpu = GpuRadixSort(gl_ctx, capacity=10)
    for n in (7 * BLOCK + 3, 100, 100_003):  # grows, then reuses its scratch
        check_sort(gl_ctx, gpu, random_keys(rng, n, 32, ties=False), n)
    assert gpu.capacity >= 100_003
    gpu.release()


def test_trimmed_scratch_frees_memory_and_still_sorts(
    gl_ctx: moderngl.Context, rng: np.random.Generator
) -> None:
    gpu = GpuRadixSort(gl_ctx, capacity=1_000_003)
    big = gpu.nbytes
    gpu.trim(7 * BLOCK)  # e.g. the tile pairs of a window that was huge
    assert gpu.capacity == 7 * BLOCK and gpu.nbytes < big / 10
    check_sort(gl_ctx, gpu, random_keys(rng, 5 * BLOCK, 32, ties=False), 5 * BLOCK)
    gpu.trim(10 * BLOCK)  # never grows
    assert gpu.capacity == 7 * BLOCK
    check_sort(gl_ctx, gpu, random_keys(rng, 9 * BLOCK, 32, ties=False), 9 * BLOCK)  # regrows
    assert gpu.capacity >= 9 * BLOCK
    gpu.release()
    assert CpuSort().nbytes == 0


def test_count_written_by_a_compute_pass(
    gl_ctx: moderngl.Context, rng: np.random.Generator
) -> None:
    # Like the preprocess pass: append survivors with an atomic counter, then sort on the GPU.
    n = BLOCK + 777
    depth = random_keys(rng, n, 32, ties=True)
    keep = rng.random(n) < 0.6
    append = gl_ctx.compute_shader("""
        #version 430
        layout(local_size_x = 64) in;
        layout(std430, binding = 0) readonly buffer Depth { uint depth[]; };
        layout(std430, binding = 1) readonly buffer Keep { uint keep[]; };
        layout(std430, binding = 2) buffer Count { uint count; };
        layout(std430, binding = 3) writeonly buffer Keys { uint keys[]; };
        layout(std430, binding = 4) writeonly buffer Values { uint values[]; };
        void main() {
            uint i = gl_GlobalInvocationID.x;
            if (i < depth.length() && keep[i] != 0u) {
                uint slot = atomicAdd(count, 1u);
                keys[slot] = depth[i];
                values[slot] = i;
            }
        }
    """)
    inputs = [gl_ctx.buffer(depth), gl_ctx.buffer(keep.astype(np.uint32)), gl_ctx.buffer(reserve=4)]
    outputs = [gl_ctx.buffer(reserve=4 * n), gl_ctx.buffer(reserve=4 * n)]
    inputs[2].clear()
    for binding, buffer in enumerate(inputs + outputs):
        buffer.bind_to_storage_buffer(binding)
    append.run(-(-n // 64))
    gpu = GpuRadixSort(gl_ctx, n)
    gpu.sort(outputs[0], outputs[1], inputs[2])

    kept = int(keep.sum())
    keys, values = (np.frombuffer(b.read(4 * kept), np.uint32) for b in outputs)
    assert np.all(np.diff(keys.astype(np.int64)) >= 0), "keys not ascending"
    np.testing.assert_array_equal(keys, depth[values], err_msg="values did not follow their keys")
    np.testing.assert_array_equal(np.sort(values), np.flatnonzero(keep))
    for obj in (gpu, append, *inputs, *outputs):
        obj.release()


@pytest.mark.parametrize("backend", ["gpu", "cpu"])
def test_sort_pairs(gl_ctx: moderngl.Context, rng: np.random.Generator, backend: str) -> None:
    keys = random_keys(rng, 5000, 32, ties=True)
    values = rng.integers(0, 2**32, 5000, dtype=np.uint32)
    got = sort_pairs(gl_ctx, keys, values, backend)
    want = expected(keys, values, len(keys))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"key_bits": 0}, "key_bits"), ({"key_bits": 33}, "key_bits"), ({"count_offset": 2}, "count")],
)
def test_bad_arguments_raise(
    gl_ctx: moderngl.Context, sorter: KeyValueSort, kwargs: dict[str, int], message: str
) -> None:
    buffer = gl_ctx.buffer(reserve=16)
    with pytest.raises(ValueError, match=message):
        sorter.sort(buffer, buffer, buffer, **kwargs)
    buffer.release()


def test_state_block_matches_host_size(gl_ctx: moderngl.Context) -> None:
    defines = "\n".join(f"#define {key} {value}" for key, value in SHADER_DEFINES.items())
    probe = gl_ctx.compute_shader(
        f"#version 430\n{defines}\n{(shader_dir() / 'sort_common.glsl').read_text()}\n"
        """
        layout(local_size_x = 1) in;
        void main() {
            state.dispatch_args[0] = 1u;
            state.dispatch_args[1] = 2u;
            state.dispatch_args[2] = 3u;
            state.count = 4u;
            state.num_blocks = 5u;
            state.digit_totals[RADIX - 1u] = uint(state.digit_totals.length());
        }
        """
    )
    state = gl_ctx.buffer(reserve=STATE_BYTES)
    state.bind_to_storage_buffer(SHADER_DEFINES["BINDING_STATE"])
    probe.run(1)
    words = np.frombuffer(state.read(), np.uint32)
    np.testing.assert_array_equal(words[:5], [1, 2, 3, 4, 5])
    assert words[-1] == RADIX
    probe.release()
    state.release()


def device(renderer: str) -> DeviceInfo:
    return DeviceInfo(renderer, "vendor", "4.6", 2**27, 65535)


def test_choose_sort() -> None:
    assert choose_sort("auto", device("llvmpipe (LLVM 15.0.6, 256 bits)")) == "cpu"
    assert choose_sort("auto", device("NVIDIA H100 80GB HBM3/PCIe/SSE2")) == "gpu"
    assert choose_sort("gpu", device("llvmpipe")) == "gpu"
    assert choose_sort("cpu", device("NVIDIA H100")) == "cpu"
    with pytest.raises(ValueError, match="sort must be one of"):
        choose_sort("bitonic", device("llvmpipe"))
    with pytest.raises(ValueError, match="backend"):
        make_sort(None, "bitonic", 1)  # type: ignore[arg-type]
    assert isinstance(make_sort(None, "cpu", 1), CpuSort)  # type: ignore[arg-type]
