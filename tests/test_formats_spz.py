"""Niantic .spz: round trips through a test encoder, axis convention, bad input."""

from __future__ import annotations

import dataclasses
import gzip
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from formats_helpers import random_scene, spz_bytes

from viewer.errors import SceneError
from viewer.formats import load_scene
from viewer.scene import GaussianScene


def _scene(degree: int, count: int = 400) -> GaussianScene:
    """A random scene with SH inside the 8-bit .spz range [-1, 1)."""
    scene = random_scene(count, degree, seed=degree)
    return dataclasses.replace(scene, sh=np.clip(scene.sh, -0.99, 0.99))


@pytest.mark.parametrize("degree", range(4))
@pytest.mark.parametrize("version", [2, 3])
def test_round_trip_within_quantisation(tmp_path: Path, degree: int, version: int) -> None:
    scene = _scene(degree)
    (tmp_path / "scene.spz").write_bytes(spz_bytes(scene, version))
    loaded = load_scene(tmp_path / "scene.spz")
    assert loaded.count == scene.count and loaded.sh_degree == degree
    assert np.all(np.abs(loaded.means - scene.means) <= 2.0**-13 + 1e-5)
    assert np.all(np.abs(loaded.log_scales - scene.stored_log_scales()) <= 1 / 32 + 1e-6)
    assert np.all(np.abs(loaded.opacities - scene.opacities) <= 0.5 / 255 + 1e-6)
    assert np.all(np.abs(loaded.sh[:, 0] - scene.sh[:, 0]) <= 0.5 / 255 / 0.15 + 1e-5)
    assert np.all(np.abs(loaded.sh[:, 1:] - scene.sh[:, 1:]) <= 1 / 256 + 1e-6)
    cosines = np.abs(np.sum(loaded.rotations * scene.rotations, axis=1))
    assert np.all(cosines >= (1 - 1e-2 if version == 2 else 1 - 1e-5))


def test_rub_axes_become_rdf(tmp_path: Path) -> None:
    header = struct.pack("<IIIBBBB", 0x5053474E, 2, 1, 0, 12, 0, 0)
    positions = bytes([0, 0x10, 0, 0, 0x20, 0, 0, 0x30, 0])  # (1, 2, 3) at 12 fraction bits
    alpha, colour, scale = bytes([255]), bytes([128, 128, 128]), bytes([96, 96, 96])
    rotation = bytes([128, 218, 128])  # x, y, z of a quarter turn about +y (w = cos 45)
    (tmp_path / "one.spz").write_bytes(
        gzip.compress(header + positions + alpha + colour + scale + rotation, mtime=0)
    )
    scene = load_scene(tmp_path / "one.spz")
    np.testing.assert_array_equal(scene.means, [[1.0, -2.0, -3.0]])
    np.testing.assert_allclose(scene.rotations, [[np.sqrt(0.5), 0, -np.sqrt(0.5), 0]], atol=0.01)
    np.testing.assert_allclose(scene.scales, np.exp(-4.0), rtol=1e-6)
    assert scene.opacities[0] == 1.0


def _spz(fields: dict[str, int] | None = None, count: int = 10) -> bytes:
    return spz_bytes(_scene(1, count), header=fields)


BAD_FILES = [
    (b"NGSP, not gzipped", "not a gzip stream"),
    (b"\x1f\x8b" + bytes(range(200)), "corrupt gzip stream"),
    (gzip.compress(b"NGSP", mtime=0), "ends inside the .spz header"),
    (_spz({"magic": 0x12345678}), "wrong magic 0x12345678"),
    (_spz({"version": 1}), "unsupported .spz version 1"),
    (_spz({"version": 4}), "unsupported .spz version 4"),
    (_spz({"degree": 4}), "unsupported SH degree 4"),
    (_spz({"flags": 2}), "extensions"),
    (_spz({"points": 11}), "truncated: the header declares 11 points"),
    (_spz({"points": 0}), "contains no Gaussians"),
    (_spz(count=200)[:300], "truncated"),
]


@pytest.mark.parametrize(("data", "problem"), BAD_FILES, ids=[p for _, p in BAD_FILES])
def test_bad_spz_files(tmp_path: Path, data: bytes, problem: str) -> None:
    (tmp_path / "bad.spz").write_bytes(data)
    with pytest.raises(SceneError, match=problem):
        load_scene(tmp_path / "bad.spz")


def test_absurd_point_count_fails_before_inflating(tmp_path: Path) -> None:
    (tmp_path / "huge.spz").write_bytes(_spz({"points": 2**32 - 1}))
    tracemalloc.start()
    try:
        with pytest.raises(SceneError, match="declares 4294967295 points, more than the file"):
            load_scene(tmp_path / "huge.spz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20
