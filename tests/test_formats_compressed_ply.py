"""SuperSplat compressed .ply: the real guitar scene, round trips through a test encoder and
through the writer (within the chunk quantisation), layout of written files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.recfunctions import repack_fields
from plyfile import PlyData, PlyElement

from tests.conftest import scene_path
from tests.formats_helpers import (
    C0,
    inria_columns,
    stored_scene,
    write_compressed_ply,
    write_vertex_ply,
)
from viewer.errors import SceneError
from viewer.formats import load_scene, save_scene
from viewer.formats.compressed_ply_write import morton_order
from viewer.scene import GaussianScene

GUITAR_COUNT = 90_854


def _per_row(chunk_values: np.ndarray, count: int) -> np.ndarray:
    """Chunk values [C, ...] repeated for each of the `count` rows of the chunks."""
    return np.repeat(chunk_values, 256, axis=0)[:count]


def _chunk_ranges(values: np.ndarray) -> np.ndarray:
    """[N, 3] max - min over each row's chunk of 256 (the last chunk padded with its last row)."""
    n = len(values)
    padded = values[np.minimum(np.arange(-(-n // 256) * 256), n - 1)].reshape(-1, 256, 3)
    return _per_row(padded.max(axis=1) - padded.min(axis=1), n)


def test_guitar_decodes_within_its_chunk_bounds() -> None:
    path = scene_path("guitar.compressed.ply")
    scene = load_scene(path)
    assert scene.count == GUITAR_COUNT
    assert scene.sh_degree == 0
    for name in ("means", "scales", "rotations", "opacities", "sh"):
        assert np.isfinite(getattr(scene, name)).all(), name
    np.testing.assert_allclose(np.linalg.norm(scene.rotations, axis=1), 1.0, atol=1e-5)
    assert np.all((scene.opacities >= 0) & (scene.opacities <= 1))
    chunk = PlyData.read(str(path))["chunk"].data
    for axis in "xyz":  # positions and log-scales lie between their chunk's bounds
        column = "xyz".index(axis)
        lo, hi = (
            _per_row(chunk[f"min_{axis}"], scene.count),
            _per_row(chunk[f"max_{axis}"], scene.count),
        )
        assert np.all((scene.means[:, column] >= lo - 1e-5) & (scene.means[:, column] <= hi + 1e-5))
        lo = _per_row(chunk[f"min_scale_{axis}"], scene.count)
        hi = _per_row(chunk[f"max_scale_{axis}"], scene.count)
        log_scale = scene.log_scales[:, column]
        assert np.all((log_scale >= lo - 1e-5) & (log_scale <= hi + 1e-5))
    for channel, key in enumerate("rgb"):
        lo, hi = (
            _per_row(chunk[f"min_{key}"], scene.count),
            _per_row(chunk[f"max_{key}"], scene.count),
        )
        rgb = 0.5 + C0 * scene.sh[:, 0, channel]
        assert np.all((rgb >= lo - 1e-5) & (rgb <= hi + 1e-5))


def test_guitar_bounds_are_plausible() -> None:
    scene = load_scene(scene_path("guitar.compressed.ply"))
    lo, hi = scene.bounds
    assert np.all(hi - lo > 0.1) and np.all(hi - lo < 20.0)
    assert 1e-6 < float(np.median(scene.scales)) < 0.1


@pytest.mark.parametrize("degree", range(4))
@pytest.mark.parametrize("colour_bounds", [True, False])
def test_round_trip_within_quantisation(tmp_path: Path, degree: int, colour_bounds: bool) -> None:
    scene = stored_scene(700, degree, seed=degree)  # 3 chunks, the last one partial
    path = tmp_path / "scene.ply"  # detected by its content, not by a ".compressed" name
    write_compressed_ply(scene, path, colour_bounds)
    loaded = load_scene(path)
    assert loaded.count == scene.count and loaded.sh_degree == degree
    steps = np.array([2047, 1023, 2047], dtype=np.float32)
    position_error = _chunk_ranges(scene.means) / steps / 2 + 1e-6
    assert np.all(np.abs(loaded.means - scene.means) <= position_error)
    log_scales = scene.stored_log_scales()
    assert np.all(
        np.abs(loaded.log_scales - log_scales) <= _chunk_ranges(log_scales) / steps / 2 + 1e-6
    )
    rgb = np.clip(0.5 + C0 * scene.sh[:, 0], 0.0, 1.0)
    colour_step = _chunk_ranges(rgb) if colour_bounds else 1.0
    rgb_error = np.abs(0.5 + C0 * loaded.sh[:, 0] - rgb)
    assert np.all(rgb_error <= colour_step / 255 / 2 + 1e-6)
    assert np.all(np.abs(loaded.opacities - scene.opacities) <= 0.5 / 255 + 1e-6)
    cosines = np.abs(np.sum(loaded.rotations * scene.rotations, axis=1))
    assert np.all(cosines >= 1 - 2e-5)
    inside = np.abs(scene.sh[:, 1:]) < 3.9  # the 8-bit SH range is [-4, 4)
    assert np.all(np.abs(loaded.sh[:, 1:] - scene.sh[:, 1:])[inside] <= 4 / 256 + 1e-5)


def test_inria_file_with_compressed_in_its_name_reads_as_inria(tmp_path: Path) -> None:
    scene = stored_scene(10, 0)
    write_vertex_ply(tmp_path / "plain.compressed.ply", inria_columns(scene))
    np.testing.assert_array_equal(load_scene(tmp_path / "plain.compressed.ply").means, scene.means)


# "Smallest three" with 10-bit unorm fields over [-sqrt(1/2), sqrt(1/2)]: each stored component
# to half a step of sqrt(2) / 1023, the quaternion to |dq| <= 2 sqrt(3) of that, so
# |<q, q'>| = 1 - |dq|^2 / 2 >= 1 - 6 (step / 2)^2.
ROTATION_MIN_COSINE = 1 - 6 * (np.sqrt(2) / 1023 / 2) ** 2 - 1e-6


def _assert_within_chunk_quantisation(loaded: GaussianScene, expected: GaussianScene) -> None:
    """Each value within half a step of its chunk's range (11/10/11 or 8 bits), or within the
    1e-5 flat-range threshold; float32 lerp rounding on top."""
    assert loaded.count == expected.count and loaded.sh_degree == expected.sh_degree
    steps = np.array([2047, 1023, 2047], dtype=np.float64)
    for name, got, want in (
        ("means", loaded.means, expected.means),
        ("log-scales", loaded.log_scales, expected.stored_log_scales()),
    ):
        ranges = _chunk_ranges(want.astype(np.float64))
        bound = np.where(ranges < 1e-5, 1e-5, ranges / steps / 2) + 1e-6 * (1 + np.abs(want))
        assert np.all(np.abs(got.astype(np.float64) - want) <= bound), name
    rgb = 0.5 + C0 * expected.sh[:, 0].astype(np.float64)
    ranges = _chunk_ranges(rgb)
    bound = np.where(ranges < 1e-5, 1e-5, ranges / 255 / 2) + 1e-6 * (1 + np.abs(rgb))
    assert np.all(np.abs(0.5 + C0 * loaded.sh[:, 0].astype(np.float64) - rgb) <= bound)
    assert np.all(np.abs(loaded.opacities - expected.opacities) <= 0.5 / 255 + 1e-6)
    cosines = np.abs(np.sum(loaded.rotations * expected.rotations, axis=1))
    assert np.all(cosines >= ROTATION_MIN_COSINE)
    inside = np.abs(expected.sh[:, 1:]) < 3.99  # the 8-bit SH range is [-4, 4)
    assert np.all(np.abs(loaded.sh[:, 1:] - expected.sh[:, 1:])[inside] <= 1 / 64 + 1e-6)


@pytest.mark.parametrize("degree", range(4))
def test_writer_round_trip_within_chunk_quantisation(tmp_path: Path, degree: int) -> None:
    scene = stored_scene(700, degree, seed=degree)  # 3 chunks, the last one partial
    save_scene(scene, tmp_path / "scene.compressed.ply")
    order = morton_order(scene.means)
    assert np.array_equal(np.sort(order), np.arange(scene.count))
    _assert_within_chunk_quantisation(
        load_scene(tmp_path / "scene.compressed.ply"), scene.subset(order)
    )


def test_writer_layout(tmp_path: Path) -> None:
    save_scene(stored_scene(300, 2), tmp_path / "scene.Compressed.PLY")
    ply = PlyData.read(str(tmp_path / "scene.Compressed.PLY"))
    assert [e.name for e in ply.elements] == ["chunk", "vertex", "sh"]
    assert [len(e.data) for e in ply.elements] == [2, 300, 300]
    assert [p.name for p in ply["chunk"].properties] == [
        *(f"{end}_{axis}" for end in ("min", "max") for axis in "xyz"),
        *(f"{end}_scale_{axis}" for end in ("min", "max") for axis in "xyz"),
        *(f"{end}_{channel}" for end in ("min", "max") for channel in "rgb"),
    ]
    assert all(p.val_dtype in ("f4", "float32", "float") for p in ply["chunk"].properties)
    assert [p.name for p in ply["vertex"].properties] == [
        "packed_position",
        "packed_rotation",
        "packed_scale",
        "packed_color",
    ]
    assert [p.name for p in ply["sh"].properties] == [f"f_rest_{i}" for i in range(24)]


def test_plain_ply_name_gets_the_inria_layout(tmp_path: Path) -> None:
    save_scene(stored_scene(300, 0), tmp_path / "scene.ply")
    assert [e.name for e in PlyData.read(str(tmp_path / "scene.ply")).elements] == ["vertex"]


def test_guitar_written_again_stays_within_its_chunks(tmp_path: Path) -> None:
    guitar = load_scene(scene_path("guitar.compressed.ply"))
    save_scene(guitar, tmp_path / "guitar.compressed.ply")
    order = morton_order(guitar.means)
    expected = guitar.subset(order)
    _assert_within_chunk_quantisation(load_scene(tmp_path / "guitar.compressed.ply"), expected)
    extent = np.ptp(guitar.means, axis=0).max()
    assert np.median(_chunk_ranges(expected.means).max(axis=1)) < 0.1 * extent  # compact chunks


def _read(path: Path) -> PlyData:
    return PlyData.read(str(path), mmap=False)  # no mapping: the file is rewritten next


def _rewrite(path: Path, element: str, rows: np.ndarray) -> None:
    ply = _read(path)
    ply.elements = [
        e if e.name != element else PlyElement.describe(rows, element) for e in ply.elements
    ]
    ply.write(str(path))


@pytest.mark.parametrize(
    ("break_file", "problem"),
    [
        (
            lambda p: _rewrite(p, "chunk", _read(p)["chunk"].data[:2]),
            "2 chunks for 700 vertices (expected 3)",
        ),
        (
            lambda p: _rewrite(p, "sh", _read(p)["sh"].data[:5]),
            "'sh' has 5 rows for 700 vertices",
        ),
        (
            lambda p: _rewrite(
                p, "sh", repack_fields(_read(p)["sh"].data[[f"f_rest_{i}" for i in range(8)]])
            ),
            "8 f_rest properties match no SH degree",
        ),
        (
            lambda p: _rewrite(
                p, "chunk", repack_fields(_read(p)["chunk"].data[["min_x", "max_x"]])
            ),
            "'chunk' element lacks properties: min_y",
        ),
    ],
)
def test_bad_compressed_files(tmp_path: Path, break_file, problem: str) -> None:
    path = tmp_path / "broken.ply"
    write_compressed_ply(stored_scene(700, 1), path)
    break_file(path)
    with pytest.raises(SceneError, match=re.escape(problem)):
        load_scene(path)


def test_float_packed_properties_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "float_packed.ply"
    columns = {name: np.zeros(3, np.float32) for name in ("packed_position", "packed_rotation")}
    columns |= {name: np.zeros(3, np.float32) for name in ("packed_scale", "packed_color")}
    write_vertex_ply(path, columns)
    data = path.read_bytes().replace(b"element vertex", b"element chunk 0\nelement vertex", 1)
    path.write_bytes(data)
    with pytest.raises(SceneError, match="unexpected type: packed_position"):
        load_scene(path)
