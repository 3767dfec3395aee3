"""load_scene / save_scene dispatch: by magic first, then by suffix; errors are SceneErrors;
non-regular files (FIFOs, devices) are refused without being opened."""

from __future__ import annotations

import builtins
import os
from pathlib import Path

import numpy as np
import pytest

from tests.formats_helpers import spz_bytes, spz_v4_bytes, stored_scene
from viewer.errors import SceneError
from viewer.formats import (
    READABLE_SUFFIXES,
    WRITABLE_SUFFIXES,
    load_inria_cameras,
    load_scene,
    save_scene,
)
from viewer.formats import limits as format_limits


def test_suffix_constants() -> None:
    assert set(READABLE_SUFFIXES) == {
        ".ply",
        ".splat",
        ".spz",
        ".sog",
        "meta.json",
        "lod-meta.json",
        ".glb",
        ".gltf",
    }
    assert set(WRITABLE_SUFFIXES) == {
        ".ply",
        ".compressed.ply",
        ".splat",
        ".spz",
        ".sog",
        "meta.json",
        ".glb",
    }


@pytest.mark.parametrize("suffix", WRITABLE_SUFFIXES)
def test_writers_round_trip_through_load_scene(tmp_path: Path, suffix: str) -> None:
    scene = stored_scene(40, 0)
    save_scene(scene, str(tmp_path / f"scene{suffix.upper()}"))  # str paths, any case
    loaded = load_scene(str(tmp_path / f"scene{suffix.upper()}"))
    assert loaded.count == scene.count
    if suffix in (".ply", ".splat"):  # float32 positions
        np.testing.assert_array_equal(loaded.means, scene.means)
    assert loaded.source == str(tmp_path / f"scene{suffix.upper()}")


def test_content_wins_over_the_suffix(tmp_path: Path) -> None:
    scene = stored_scene(40, 2)
    save_scene(scene, tmp_path / "scene.ply")
    (tmp_path / "scene.ply").rename(tmp_path / "really_a_ply.splat")
    assert load_scene(tmp_path / "really_a_ply.splat").sh_degree == 2
    (tmp_path / "really_an.spz.bin").write_bytes(spz_bytes(scene))
    assert load_scene(tmp_path / "really_an.spz.bin").count == 40
    (tmp_path / "really_a_v4.spz.ply").write_bytes(spz_v4_bytes(scene))
    assert load_scene(tmp_path / "really_a_v4.spz.ply").count == 40


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
    [("scene.xyz", r"cannot write '\.xyz' files"), ("no_folder/scene.ply", "cannot write")],
)
def test_unwritable_paths(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(SceneError, match=problem):
        save_scene(stored_scene(4, 0), tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.fixture
def no_open(monkeypatch: pytest.MonkeyPatch):
    """Fail (rather than block) if any of `paths` is opened: yields the set to fill."""
    guarded: set[str] = set()
    real_open, real_os_open = builtins.open, os.open

    def check(path: object) -> None:
        if isinstance(path, (str, os.PathLike)) and os.path.abspath(path) in guarded:
            raise AssertionError(f"{path} was opened")

    def guarded_open(path, *args, **kwargs):
        check(path)
        return real_open(path, *args, **kwargs)

    def guarded_os_open(path, *args, **kwargs):
        check(path)
        return real_os_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)
    return guarded


@pytest.mark.parametrize("name", ["scene.ply", "scene.spz", "scene.splat", "cameras.json"])
def test_fifos_are_refused_before_opening(tmp_path: Path, no_open: set[str], name: str) -> None:
    os.mkfifo(tmp_path / name)  # opening it for reading would block until a writer comes
    no_open.add(str(tmp_path / name))
    with pytest.raises(SceneError, match=r"not a regular file \(a FIFO\)") as error:
        if name == "cameras.json":
            load_inria_cameras(tmp_path / name)
        else:
            load_scene(tmp_path / name)
    assert error.value.path == str(tmp_path / name) and "\n" not in error.value.problem


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.parametrize("name", ["scene.spz", "scene.ply", "scene.splat"])
def test_devices_behind_scene_names_are_refused(
    tmp_path: Path, no_open: set[str], name: str
) -> None:
    (tmp_path / name).symlink_to("/dev/zero")  # reading it would never end
    no_open.update({str(tmp_path / name), "/dev/zero"})
    with pytest.raises(SceneError, match=r"not a regular file \(a character device\)"):
        load_scene(tmp_path / name)


@pytest.mark.parametrize("suffix", WRITABLE_SUFFIXES)
def test_scenes_larger_than_memory_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    save_scene(stored_scene(3000, 2), tmp_path / f"scene{suffix}")
    monkeypatch.setattr(format_limits, "available_memory", lambda: 50_000)
    with pytest.raises(SceneError, match=r"declares 3,000 points \(0\.\d GB decoded\), more than"):
        load_scene(tmp_path / f"scene{suffix}")
