"""INRIA .ply: bit-exact round trips, layouts, real file, bad input."""

from __future__ import annotations

import dataclasses
import re
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import scene_path
from tests.formats_helpers import (
    assert_bit_exact,
    inria_columns,
    stored_scene,
    write_vertex_ply,
)
from viewer.errors import SceneError
from viewer.formats import load_scene, save_scene
from viewer.scene import DroppedGaussiansWarning


@pytest.mark.parametrize("degree", range(4))
def test_scene_write_read_is_bit_exact(tmp_path: Path, degree: int) -> None:
    scene = stored_scene(300, degree, seed=degree)
    save_scene(scene, tmp_path / "scene.ply")
    loaded = load_scene(tmp_path / "scene.ply")
    assert loaded.sh_degree == degree
    assert_bit_exact(scene, loaded)


def test_scene_without_raw_values_round_trips_within_an_ulp(tmp_path: Path) -> None:
    scene = dataclasses.replace(stored_scene(300, 1, seed=4), log_scales=None, opacity_logits=None)
    save_scene(scene, tmp_path / "scene.ply")
    loaded = load_scene(tmp_path / "scene.ply")
    for name in ("means", "rotations", "sh"):
        np.testing.assert_array_equal(getattr(scene, name), getattr(loaded, name))
    np.testing.assert_array_max_ulp(scene.scales, loaded.scales, maxulp=2)
    np.testing.assert_allclose(scene.opacities, loaded.opacities, rtol=1e-6, atol=1e-7)


def test_real_file_read_write_read_is_bit_exact(tmp_path: Path) -> None:
    first = load_scene(scene_path("donut.ply"))
    save_scene(first, tmp_path / "again.ply")
    second = load_scene(tmp_path / "again.ply")
    assert_bit_exact(first, second)
    np.testing.assert_array_equal(first.log_scales, second.log_scales)
    np.testing.assert_array_equal(first.opacity_logits, second.opacity_logits)


def test_donut_is_read_as_published() -> None:
    scene = load_scene(scene_path("donut.ply"))
    assert scene.count == 45_624
    assert scene.sh_degree == 0
    lo, hi = scene.bounds
    assert np.all(lo > -0.2) and np.all(hi < 0.2)  # about 0.2 across, around the origin
    np.testing.assert_allclose(np.linalg.norm(scene.rotations, axis=1), 1.0, atol=1e-6)
    assert np.all((scene.opacities >= 0) & (scene.opacities <= 1))


def test_any_property_order_float64_and_extra_properties(tmp_path: Path) -> None:
    scene = stored_scene(64, 2, seed=5)
    columns = inria_columns(scene)
    names = list(columns)
    np.random.default_rng(0).shuffle(names)
    shuffled = {
        name: columns[name].astype("<f8" if i % 2 else "<f4") for i, name in enumerate(names)
    }
    shuffled["red"] = np.arange(scene.count, dtype=np.uint8)
    write_vertex_ply(tmp_path / "shuffled.ply", shuffled)
    loaded = load_scene(tmp_path / "shuffled.ply")
    assert_bit_exact(scene, loaded)


def test_big_endian_file(tmp_path: Path) -> None:
    scene = stored_scene(32, 1, seed=6)
    write_vertex_ply(tmp_path / "be.ply", inria_columns(scene, ">f4"), byte_order=">")
    assert_bit_exact(scene, load_scene(tmp_path / "be.ply"))


def test_f_rest_is_channel_major(tmp_path: Path) -> None:
    columns = inria_columns(stored_scene(4, 1, seed=7))
    for i in range(9):
        columns[f"f_rest_{i}"] = np.full(4, i, dtype=np.float32)
    write_vertex_ply(tmp_path / "layout.ply", columns)
    sh = load_scene(tmp_path / "layout.ply").sh  # [N, 4, 3]
    for channel in range(3):
        for coefficient in range(1, 4):
            assert np.all(sh[:, coefficient, channel] == channel * 3 + coefficient - 1)


def test_non_finite_rows_and_zero_quaternions_are_dropped_with_one_warning(tmp_path: Path) -> None:
    columns = inria_columns(stored_scene(10, 0, seed=8))
    columns["x"][2] = np.nan
    columns["scale_1"][3] = 1000.0  # exp overflows to Inf: dropped, without a numpy warning
    columns["opacity"][4] = -1000.0  # sigmoid underflows to 0: kept
    for i in range(4):
        columns[f"rot_{i}"][5] = 0.0
    write_vertex_ply(tmp_path / "bad_rows.ply", columns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = load_scene(tmp_path / "bad_rows.ply")
    assert scene.count == 7
    assert [w.category for w in caught] == [DroppedGaussiansWarning]


def _edited_header(path: Path, old: bytes, new: bytes) -> Path:
    data = path.read_bytes()
    end = data.index(b"end_header") + len(b"end_header")
    assert old in data[:end]
    path.write_bytes(data[:end].replace(old, new) + data[end:])
    return path


@pytest.fixture
def small_ply(tmp_path: Path) -> Path:
    path = tmp_path / "small.ply"
    save_scene(stored_scene(20, 1, seed=9), path)
    return path


def _drop(path: Path, *names: str) -> None:
    scene = load_scene(path)
    columns = {k: v for k, v in inria_columns(scene).items() if k not in names}
    write_vertex_ply(path, columns)


@pytest.mark.parametrize(
    ("break_file", "problem"),
    [
        (lambda p: _drop(p, "scale_1", "rot_3"), "lacks properties: scale_1, rot_3"),
        (lambda p: _drop(p, "f_rest_8"), "8 f_rest properties match no SH degree"),
        (lambda p: _edited_header(p, b"f_rest_3\n", b"f_rest_30\n"), "not numbered 0..8"),
        (lambda p: _edited_header(p, b"binary_little_endian", b"ascii"), "ASCII PLY"),
        (lambda p: _edited_header(p, b"float x", b"int x"), "unexpected type: x (int32)"),
        (lambda p: _edited_header(p, b"vertex", b"point"), "no 'vertex' element"),
        (lambda p: _edited_header(p, b"end_header", b"end_hxader"), "no 'end_header'"),
        (lambda p: p.write_bytes(b"PLY" + p.read_bytes()[3:]), "does not start with 'ply'"),
        (lambda p: p.write_bytes(p.read_bytes()[:-7]), "truncated"),
        (lambda p: p.write_bytes(b""), "does not start with 'ply'"),
        (
            lambda p: _edited_header(
                p, b"end_header", b"element face 1\nproperty list uchar int i\nend_header"
            ),
            "list property 'i'",
        ),
        (lambda p: _edited_header(p, b"element vertex 20", b"element vertex 0"), "no Gaussians"),
        (
            lambda p: _edited_header(p, b"vertex 20", b"vertex " + b"9" * 5000),
            "5,000-digit row count in the header",
        ),
    ],
)
def test_bad_files_raise_scene_error(small_ply: Path, break_file, problem: str) -> None:
    break_file(small_ply)
    with pytest.raises(SceneError, match=re.escape(problem)) as error:
        load_scene(small_ply)
    assert error.value.path == str(small_ply)
    assert "\n" not in str(error.value)


def test_lying_vertex_count_fails_before_allocating(small_ply: Path) -> None:
    _edited_header(small_ply, b"element vertex 20", b"element vertex 900000000000")
    tracemalloc.start()
    try:
        with pytest.raises(SceneError, match="truncated: the header declares 900000000000 vertex"):
            load_scene(small_ply)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
