"""load_scene / save_scene dispatch: by magic first, then by suffix; errors are SceneErrors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from formats_helpers import random_scene, spz_bytes

from viewer.errors import SceneError
from viewer.formats import READABLE_SUFFIXES, WRITABLE_SUFFIXES, load_scene, save_scene


def test_suffix_constants() -> None:
    assert set(READABLE_SUFFIXES) == {".ply", ".splat", ".spz"}
    assert set(WRITABLE_SUFFIXES) == {".ply", ".splat"}


@pytest.mark.parametrize("suffix", WRITABLE_SUFFIXES)
def test_writers_round_trip_through_load_scene(tmp_path: Path, suffix: str) -> None:
    scene = random_scene(40, 0)
    save_scene(scene, str(tmp_path / f"scene{suffix.upper()}"))  # str paths, any case
    loaded = load_scene(str(tmp_path / f"scene{suffix.upper()}"))
    np.testing.assert_array_equal(loaded.means, scene.means)
    assert loaded.source == str(tmp_path / f"scene{suffix.upper()}")


def test_content_wins_over_the_suffix(tmp_path: Path) -> None:
    scene = random_scene(40, 2)
    save_scene(scene, tmp_path / "scene.ply")
    (tmp_path / "scene.ply").rename(tmp_path / "really_a_ply.splat")
    assert load_scene(tmp_path / "really_a_ply.splat").sh_degree == 2
    (tmp_path / "really_an.spz.bin").write_bytes(spz_bytes(scene))
    assert load_scene(tmp_path / "really_an.spz.bin").count == 40


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("missing.ply", None, "no such file"),
        ("scene.xyz", b"0123456789", "unknown scene format"),
    ],
)
def test_unreadable_paths(tmp_path: Path, name: str, data: bytes | None, problem: str) -> None:
    if data is not None:
        (tmp_path / name).write_bytes(data)
    with pytest.raises(SceneError, match=problem) as error:
        load_scene(tmp_path / name)
    assert error.value.path == str(tmp_path / name)


@pytest.mark.parametrize(
    ("name", "problem"),
    [("scene.spz", r"cannot write '\.spz' files"), ("no_folder/scene.ply", "cannot write")],
)
def test_unwritable_paths(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(SceneError, match=problem):
        save_scene(random_scene(4, 0), tmp_path / name)
    assert not (tmp_path / name).exists()
