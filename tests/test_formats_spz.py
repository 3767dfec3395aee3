"""Niantic .spz read: files built by hand from the layout (v2, v3 gzip; v4 NGSP + zstd streams),
axis conventions, extension records, SH degree 4, bad input and bounded resources."""

from __future__ import annotations

import dataclasses
import gzip
import re
import struct
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import zstandard

from tests.formats_helpers import (
    AXIS_FLIP,
    SH_AXIS_FLIP,
    extension_record,
    spz_bytes,
    spz_sections,
    spz_v4_bytes,
    stored_scene,
    zeroed_spz,
)
from viewer.errors import SceneError
from viewer.formats import SpzWarning, load_scene
from viewer.formats import limits as format_limits
from viewer.scene import GaussianScene

ADOBE_COORDINATES = 0xADBE0003


def _scene(degree: int, count: int = 400) -> GaussianScene:
    """A random scene with SH inside the 8-bit .spz range [-1, 1)."""
    scene = stored_scene(count, degree, seed=degree)
    return dataclasses.replace(scene, sh=np.clip(scene.sh, -0.99, 0.99))


def _load_quietly(path: Path) -> GaussianScene:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none expected
        return load_scene(path)


def _assert_within_hand_encoding(loaded: GaussianScene, scene: GaussianScene, version: int) -> None:
    """Errors of the test encoder (formats_helpers.spz_sections): round to nearest everywhere."""
    assert loaded.count == scene.count and loaded.sh_degree == scene.sh_degree
    assert np.all(np.abs(loaded.means - scene.means) <= 2.0**-13 + 1e-5)
    assert np.all(np.abs(loaded.log_scales - scene.stored_log_scales()) <= 1 / 32 + 1e-6)
    assert np.all(np.abs(loaded.opacities - scene.opacities) <= 0.5 / 255 + 1e-6)
    assert np.all(np.abs(loaded.sh[:, 0] - scene.sh[:, 0]) <= 0.5 / 255 / 0.15 + 1e-5)
    assert np.all(np.abs(loaded.sh[:, 1:] - scene.sh[:, 1:]) <= 1 / 256 + 1e-6)
    cosines = np.abs(np.sum(loaded.rotations * scene.rotations, axis=1))
    assert np.all(cosines >= (1 - 1e-2 if version == 2 else 1 - 1e-5))


@pytest.mark.parametrize("degree", range(4))
@pytest.mark.parametrize("version", [2, 3, 4])
def test_round_trip_within_quantisation(tmp_path: Path, degree: int, version: int) -> None:
    scene = _scene(degree)
    data = spz_v4_bytes(scene) if version == 4 else spz_bytes(scene, version)
    (tmp_path / "scene.spz").write_bytes(data)
    _assert_within_hand_encoding(_load_quietly(tmp_path / "scene.spz"), scene, version)


def test_v4_layout_is_plaintext_header_toc_and_zstd_streams(tmp_path: Path) -> None:
    data = spz_v4_bytes(_scene(0, 10))
    assert data[:4] == b"NGSP" and struct.unpack_from("<I", data, 4) == (4,)
    assert data[15] == 5  # no SH: five streams
    (tmp_path / "v4.spz").write_bytes(data)
    assert _load_quietly(tmp_path / "v4.spz").count == 10


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


def test_unknown_extension_records_are_skipped(tmp_path: Path) -> None:
    scene = _scene(2)
    (tmp_path / "plain.spz").write_bytes(spz_v4_bytes(scene))
    records = extension_record(0x12340001, b"vendor data " * 5) + extension_record(0x4E410002, b"")
    (tmp_path / "extended.spz").write_bytes(spz_v4_bytes(scene, extensions=records))
    plain, extended = load_scene(tmp_path / "plain.spz"), _load_quietly(tmp_path / "extended.spz")
    for name in ("means", "scales", "rotations", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(extended, name), getattr(plain, name))


def test_gzip_extension_records_follow_the_payload(tmp_path: Path) -> None:
    scene = _scene(1)
    payload = gzip.decompress(spz_bytes(scene, header={"flags": 2}))
    records = extension_record(0x12340001, b"skip me") + extension_record(
        ADOBE_COORDINATES, struct.pack("<I", 4)
    )
    (tmp_path / "v3.spz").write_bytes(gzip.compress(payload + records, mtime=0))
    _assert_within_hand_encoding(_load_quietly(tmp_path / "v3.spz"), scene, 3)
    (tmp_path / "cut.spz").write_bytes(gzip.compress(payload + records[:-2], mtime=0))
    with pytest.raises(SceneError, match="extension record 0xadbe0003 declares 4 bytes, 2 are"):
        load_scene(tmp_path / "cut.spz")


def _stored_as_rdf(scene: GaussianScene) -> GaussianScene:
    """The scene whose test encoding (RDF -> RUB flip) stores `scene`'s own RDF values."""
    k = scene.sh.shape[1]
    sh = scene.sh.copy()
    sh[:, 1:] *= SH_AXIS_FLIP[: k - 1, None]
    return dataclasses.replace(
        scene,
        means=scene.means * AXIS_FLIP,
        rotations=scene.rotations * np.array([1, 1, -1, -1], dtype=np.float32),
        sh=sh,
    )


def test_coordinate_system_extension_names_the_stored_axes(tmp_path: Path) -> None:
    scene = _scene(3)
    rdf = extension_record(ADOBE_COORDINATES, struct.pack("<I", 6))  # RDF: no flip needed
    (tmp_path / "rdf.spz").write_bytes(spz_v4_bytes(_stored_as_rdf(scene), extensions=rdf))
    _assert_within_hand_encoding(_load_quietly(tmp_path / "rdf.spz"), scene, 4)
    rub = extension_record(ADOBE_COORDINATES, struct.pack("<I", 4))  # RUB, the default
    (tmp_path / "rub.spz").write_bytes(spz_v4_bytes(scene, extensions=rub))
    _assert_within_hand_encoding(_load_quietly(tmp_path / "rub.spz"), scene, 4)


def test_rotated_coordinate_systems_are_refused(tmp_path: Path) -> None:
    rfu = extension_record(ADOBE_COORDINATES, struct.pack("<I", 12))
    (tmp_path / "rfu.spz").write_bytes(spz_v4_bytes(_scene(0, 4), extensions=rfu))
    with pytest.raises(SceneError, match="rotated axes RFU is not supported"):
        load_scene(tmp_path / "rfu.spz")


@pytest.mark.parametrize("version", [3, 4])
def test_sh_degree_4_keeps_degree_3_and_warns_once(tmp_path: Path, version: int) -> None:
    scene = _scene(3, 300)
    degree4 = np.random.default_rng(4).uniform(-0.9, 0.9, size=(300, 9, 3)).astype(np.float32)
    data = (
        spz_v4_bytes(scene, degree4=degree4) if version == 4 else spz_bytes(scene, degree4=degree4)
    )
    (tmp_path / "degree4.spz").write_bytes(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_scene(tmp_path / "degree4.spz")
    assert [w.category for w in caught] == [SpzWarning]
    assert "SH degree 4" in str(caught[0].message) and "kept degree 3" in str(caught[0].message)
    _assert_within_hand_encoding(loaded, scene, version)


def test_antialiased_flag_is_reported(tmp_path: Path) -> None:
    (tmp_path / "aa.spz").write_bytes(spz_v4_bytes(_scene(0, 5), header={"flags": 1}))
    with pytest.warns(SpzWarning, match="antialiased"):
        load_scene(tmp_path / "aa.spz")


def _spz(fields: dict[str, int] | None = None, count: int = 10) -> bytes:
    return spz_bytes(_scene(1, count), header=fields)


def _v4(count: int = 10, **options: object) -> bytes:
    return spz_v4_bytes(_scene(1, count), **options)


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


_SIZES_10 = [90, 10, 30, 30, 40, 90]  # section bytes of 10 Gaussians of SH degree 1 (v3+)
_STREAMS_10 = [_zstd(bytes(size)) for size in _SIZES_10]

BAD_FILES = [
    (b"NGXP, neither", "neither an 'NGSP' header"),
    (b"\x1f\x8b" + bytes(range(200)), "corrupt gzip stream"),
    (gzip.compress(b"NGSP", mtime=0), "ends inside the .spz header"),
    (_spz({"magic": 0x12345678}), "wrong magic 0x12345678"),
    (_spz({"version": 1}), "unsupported .spz version 1 (supported: 2, 3, 4)"),
    (_spz({"version": 7}), "unsupported .spz version 7 (supported: 2, 3, 4)"),
    (_spz({"version": 4}), "a gzip .spz of version 4"),
    (_spz({"degree": 5}), "unsupported SH degree 5 (supported: 0 to 4)"),
    (_spz({"points": 11}), "truncated: the header declares 11 points"),
    (_spz({"points": 0}), "contains no Gaussians"),
    (_spz(count=200)[:300], "truncated"),
    (_spz()[:-4], "truncated: the gzip stream ends before its CRC and size"),
    (_spz()[:-8], "truncated: the gzip stream ends before its CRC and size"),
    (_spz()[:-8] + bytes(a ^ 0xFF for a in _spz()[-8:-4]) + _spz()[-4:], "incorrect data check"),
    (_spz({"points": 9}), "more data than the header's 9 points"),
    (b"NGSP" + bytes(20), "truncated: 24 bytes, the .spz v4 header has 32"),
    (_v4(header={"version": 7}), "unsupported .spz version 7 (supported: 2, 3, 4)"),
    (_v4(header={"version": 3}), "a plaintext .spz header of version 3"),
    (_v4(header={"degree": 5}), "unsupported SH degree 5"),
    (_v4(header={"toc": 16}), "table of contents at bytes 16"),
    (_v4(header={"toc": 1 << 20}), "lies outside the file"),
    (_v4(header={"streams": 5}), "5 streams for 10 points of SH degree 1 (expected 6)"),
    (_v4(header={"points": 11}), "stream 'positions' declares 90 bytes, expected 99"),
    (_v4(sizes=[90, 10, 30, 30, 40, 91]), "stream 'sh' declares 91 bytes, expected 90"),
    (_v4() + b"junk", "4 bytes follow the last stream"),
    (_v4()[:-3], "stream 'sh' runs past the end of the file"),
    (_v4(streams=[*_STREAMS_10[:5], _zstd(bytes(80))]), "truncated: stream 'sh' holds 80"),
    (_v4(streams=[*_STREAMS_10[:5], _zstd(bytes(95))]), "'sh' holds more than the 90 bytes"),
    (_v4(streams=[*_STREAMS_10[:5], b"not zstd"]), "corrupt zstd stream 'sh'"),
    (_v4(streams=[*_STREAMS_10[:5], _STREAMS_10[5] + b"xx"]), "corrupt zstd stream 'sh'"),
    (_v4(extensions=extension_record(7, b"abc")[:-1]), "extension record 0x00000007"),
    (_v4(extensions=b"\x01\x02"), "truncated extension record"),
]


@pytest.mark.parametrize(("data", "problem"), BAD_FILES, ids=[p for _, p in BAD_FILES])
def test_bad_spz_files(tmp_path: Path, data: bytes, problem: str) -> None:
    (tmp_path / "bad.spz").write_bytes(data)
    with pytest.raises(SceneError, match=re.escape(problem)) as error:
        load_scene(tmp_path / "bad.spz")
    assert "\n" not in error.value.problem


def test_two_zstd_frames_in_one_stream_are_read(tmp_path: Path) -> None:
    """ZSTD_decompress (the library's reader) reads every frame of a stream."""
    scene = _scene(0, 10)
    (tmp_path / "one.spz").write_bytes(spz_v4_bytes(scene))
    _, body = spz_sections(scene)
    streams = [_zstd(section.tobytes()) for section in body if section.size]
    positions = body[0].tobytes()
    streams[0] = _zstd(positions[:40]) + _zstd(positions[40:])
    (tmp_path / "two.spz").write_bytes(spz_v4_bytes(scene, streams=streams))
    np.testing.assert_array_equal(
        load_scene(tmp_path / "two.spz").means, load_scene(tmp_path / "one.spz").means
    )


@pytest.mark.parametrize("version", [3, 4])
def test_absurd_point_count_fails_before_inflating(tmp_path: Path, version: int) -> None:
    data = _spz({"points": 2**32 - 1}) if version == 3 else _v4(header={"points": 2**32 - 1})
    (tmp_path / "huge.spz").write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(SceneError, match="declares 4,294,967,295 points, more than the file"):
            load_scene(tmp_path / "huge.spz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


@pytest.fixture(scope="module")
def zeroed_40m(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """0.78 MB of gzip .spz declaring 40,000,000 all-zero Gaussians (800 MB inflated)."""
    path = tmp_path_factory.mktemp("zeroed") / "zeroed.spz"
    path.write_bytes(zeroed_spz(40_000_000))
    return path


def test_more_points_than_memory_fails_before_inflating(
    zeroed_40m: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert zeroed_40m.stat().st_size < 800_000
    monkeypatch.setattr(format_limits, "available_memory", lambda: 2_000_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(SceneError) as error:
            load_scene(zeroed_40m)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert re.fullmatch(
        r"declares 40,000,000 points \(\d\.\d GB decoded\), more than the 2\.0 GB of memory "
        r"available",
        error.value.problem,
    )
    assert peak < 16 << 20  # nothing inflated, nothing allocated for the points


def test_v4_memory_check_comes_before_decompression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "v4.spz").write_bytes(_v4(count=2000))
    monkeypatch.setattr(format_limits, "available_memory", lambda: 100_000)
    with pytest.raises(SceneError, match=r"declares 2,000 points \(.* GB decoded\), more than"):
        load_scene(tmp_path / "v4.spz")


def test_available_memory_is_known_here() -> None:
    available = format_limits.available_memory()
    assert available is None or available > 0
