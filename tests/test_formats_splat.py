"""antimatter15 .splat: round trip within quantisation, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from tests.formats_helpers import C0, stored_scene
from viewer.errors import SceneError
from viewer.formats import load_scene, save_scene
from viewer.scene import DroppedGaussiansWarning


@pytest.mark.parametrize("degree", [0, 3])
def test_round_trip_within_quantisation(tmp_path: Path, degree: int) -> None:
    scene = stored_scene(500, degree, seed=degree)
    save_scene(scene, tmp_path / "scene.splat")
    assert (tmp_path / "scene.splat").stat().st_size == 32 * scene.count
    loaded = load_scene(tmp_path / "scene.splat")
    assert loaded.count == scene.count and loaded.sh_degree == 0
    np.testing.assert_array_equal(loaded.means, scene.means)
    np.testing.assert_array_equal(loaded.scales, scene.scales)
    rgb = np.clip(0.5 + C0 * scene.sh[:, 0], 0.0, 1.0)
    assert np.all(np.abs(0.5 + C0 * loaded.sh[:, 0] - rgb) <= 0.5 / 255 + 1e-6)
    assert np.all(np.abs(loaded.opacities - scene.opacities) <= 0.5 / 255 + 1e-6)
    cosines = np.abs(np.sum(loaded.rotations * scene.rotations, axis=1))
    assert np.all(cosines >= 0.999)


def test_zero_rotation_records_are_dropped(tmp_path: Path) -> None:
    save_scene(stored_scene(3, 0), tmp_path / "scene.splat")
    data = bytearray((tmp_path / "scene.splat").read_bytes())
    data[32 + 28 : 32 + 32] = bytes([128, 128, 128, 128])  # the second record's quaternion = 0
    (tmp_path / "scene.splat").write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert load_scene(tmp_path / "scene.splat").count == 2
    assert [w.category for w in caught] == [DroppedGaussiansWarning]


@pytest.mark.parametrize(
    ("data", "problem"),
    [(bytes(33), "size 33 bytes is not a multiple of 32"), (b"", "contains no Gaussians")],
)
def test_bad_splat_files(tmp_path: Path, data: bytes, problem: str) -> None:
    (tmp_path / "bad.splat").write_bytes(data)
    with pytest.raises(SceneError, match=problem):
        load_scene(tmp_path / "bad.splat")
