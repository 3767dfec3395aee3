""".spz write (v4 default, v3): layout checked by hand, write -> read within the bounds the
encoding allows, fixed-point range, options."""

from __future__ import annotations

import dataclasses
import gzip
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import zstandard

from tests.formats_helpers import stored_scene
from viewer.errors import SceneError
from viewer.formats import SpzWarning, load_scene, save_scene
from viewer.formats.spz import read_spz_sections
from viewer.formats.spz_write import write_spz
from viewer.scene import GaussianScene

SECTION_WIDTHS = [9, 1, 3, 3, 4]  # positions, alphas, colours, scales, rotations (then SH)
# "Smallest three": each stored component to half a step of sqrt(1/2) / 511; the quaternion is
# then off by at most |dq| <= 2 sqrt(3) step/2 (the recomputed largest component adds at most
# sqrt(3) times the stored error), so |<q, q'>| = 1 - |dq|^2 / 2 >= 1 - 6 (step/2)^2.
ROTATION_HALF_STEP = np.sqrt(0.5) / 511 / 2
ROTATION_MIN_COSINE = 1 - 6 * ROTATION_HALF_STEP**2 - 1e-6  # float32 rounding


def _scene(degree: int, count: int = 1000, seed: int = 0) -> GaussianScene:
    """Random Gaussians inside the ranges .spz stores without clamping."""
    scene = stored_scene(count, degree, seed=seed + degree)
    log_scales = np.clip(scene.stored_log_scales(), -9.9, 5.9)
    return dataclasses.replace(
        scene,
        sh=np.clip(scene.sh, -0.9, 0.9),
        scales=np.exp(log_scales),
        log_scales=log_scales,
    )


def _sh_bound(bits: int) -> float:
    """Largest SH error for `bits` significant bits: round to 1/128, then to a bucket of
    2^(8 - bits) of those steps, each to half a step."""
    return (0.5 + (1 << (8 - bits)) / 2) / 128


def _assert_within_encoding(
    loaded: GaussianScene, scene: GaussianScene, fraction_bits: int, sh_bits: tuple[int, int]
) -> None:
    assert loaded.count == scene.count and loaded.sh_degree == scene.sh_degree
    position_error = np.abs(loaded.means.astype(np.float64) - scene.means)
    assert np.all(position_error <= 2.0 ** -(fraction_bits + 1) + 1e-6 * np.abs(scene.means))
    assert np.all(np.abs(loaded.log_scales - scene.stored_log_scales()) <= 0.5 / 16 + 1e-6)
    assert np.all(np.abs(loaded.opacities - scene.opacities) <= 0.5 / 255 + 1e-6)
    dc_error = np.abs(loaded.sh[:, 0] - scene.sh[:, 0])
    assert np.all(dc_error <= 0.5 / (0.15 * 255) + 1e-5)
    cosines = np.abs(np.sum(loaded.rotations * scene.rotations, axis=1))
    assert np.all(cosines >= ROTATION_MIN_COSINE)
    if scene.sh_degree:
        sh_error = np.abs(loaded.sh[:, 1:] - scene.sh[:, 1:])  # [N, K - 1, 3]
        assert np.all(sh_error[:, :3] <= _sh_bound(sh_bits[0]) + 1e-6)
        assert np.all(sh_error[:, 3:] <= _sh_bound(sh_bits[1]) + 1e-6)


@pytest.mark.parametrize("degree", range(4))
@pytest.mark.parametrize("version", [3, 4])
def test_write_read_within_quantisation(tmp_path: Path, degree: int, version: int) -> None:
    scene = _scene(degree)
    save_scene(scene, tmp_path / "scene.spz", spz_version=version)
    _assert_within_encoding(load_scene(tmp_path / "scene.spz"), scene, 12, (5, 4))


def test_full_sh_bits(tmp_path: Path) -> None:
    scene = _scene(3)
    write_spz(scene, tmp_path / "scene.spz", sh_bits=(8, 8))
    loaded = load_scene(tmp_path / "scene.spz")
    _assert_within_encoding(loaded, scene, 12, (8, 8))
    assert np.abs(loaded.sh[:, 1:] - scene.sh[:, 1:]).max() <= 1 / 256 + 1e-6


def test_v4_is_the_default_and_its_layout(tmp_path: Path) -> None:
    scene = _scene(2, count=300)
    save_scene(scene, tmp_path / "scene.spz")
    data = (tmp_path / "scene.spz").read_bytes()
    magic, version, count, degree, bits, flags, streams, toc = struct.unpack_from(
        "<4sIIBBBBI", data
    )
    assert (magic, version, count, degree, bits, flags) == (b"NGSP", 4, 300, 2, 12, 0)
    assert (streams, toc, data[20:32]) == (6, 32, bytes(12))
    offset = toc + 16 * streams
    for index, width in enumerate([*SECTION_WIDTHS, 24]):
        compressed, size = struct.unpack_from("<QQ", data, toc + 16 * index)
        assert size == 300 * width
        stream = data[offset : offset + compressed]
        assert len(zstandard.ZstdDecompressor().decompress(stream)) == size
        offset += compressed
    assert offset == len(data)


def test_degree_0_has_five_streams(tmp_path: Path) -> None:
    save_scene(_scene(0, count=10), tmp_path / "scene.spz")
    assert (tmp_path / "scene.spz").read_bytes()[15] == 5


def test_v3_layout(tmp_path: Path) -> None:
    scene = _scene(1, count=300)
    save_scene(scene, tmp_path / "scene.spz", spz_version=3)
    payload = gzip.decompress((tmp_path / "scene.spz").read_bytes())
    assert struct.unpack_from("<IIIBBBB", payload) == (0x5053474E, 3, 300, 1, 12, 0, 0)
    assert len(payload) == 16 + 300 * (sum(SECTION_WIDTHS) + 9)


def test_far_scenes_get_fewer_fraction_bits(tmp_path: Path) -> None:
    scene = _scene(0)
    far = dataclasses.replace(scene, means=scene.means + np.float32(5000.0))
    save_scene(far, tmp_path / "far.spz")
    assert (tmp_path / "far.spz").read_bytes()[13] == 10  # 5000 x 2^11 > 2^23 - 1
    _assert_within_encoding(load_scene(tmp_path / "far.spz"), far, 10, (5, 4))


def test_positions_beyond_24_bits_are_refused(tmp_path: Path) -> None:
    scene = _scene(0, count=10)
    means = scene.means.copy()
    means[3, 1] = 9e6
    with pytest.raises(SceneError, match=r"beyond \.spz's 24-bit range"):
        save_scene(dataclasses.replace(scene, means=means), tmp_path / "far.spz")
    assert not (tmp_path / "far.spz").exists()


def test_unwritable_versions(tmp_path: Path) -> None:
    for version in (2, 5):
        with pytest.raises(SceneError, match=f"cannot write .spz version {version}"):
            save_scene(_scene(0, count=4), tmp_path / "x.spz", spz_version=version)
    assert not (tmp_path / "x.spz").exists()


def test_antialiased_flag(tmp_path: Path) -> None:
    write_spz(_scene(0, count=4), tmp_path / "aa.spz", antialiased=True)
    assert (tmp_path / "aa.spz").read_bytes()[14] == 1
    with pytest.warns(SpzWarning, match="antialiased"):
        load_scene(tmp_path / "aa.spz")


def test_rewriting_a_decoded_file_is_exact(tmp_path: Path) -> None:
    """Decoded values sit on the quantisation grid: writing them again stores the same bytes."""
    save_scene(_scene(3), tmp_path / "a.spz")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_scene(load_scene(tmp_path / "a.spz"), tmp_path / "b.spz")
    header_a, sections_a = read_spz_sections(tmp_path / "a.spz")
    header_b, sections_b = read_spz_sections(tmp_path / "b.spz")
    assert header_a == header_b
    for name, section in sections_a.items():
        if name != "rotations":  # re-normalising may move a quaternion by a step
            np.testing.assert_array_equal(sections_b[name], section, err_msg=name)
    rotations_a = load_scene(tmp_path / "a.spz").rotations
    cosines = np.abs(np.sum(load_scene(tmp_path / "b.spz").rotations * rotations_a, axis=1))
    assert np.all(cosines >= ROTATION_MIN_COSINE)
