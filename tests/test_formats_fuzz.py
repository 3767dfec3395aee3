"""Fuzzing the readers: random bytes, and valid files truncated or with flipped bits, must give a
GaussianScene or a SceneError, nothing else (no other exception, no stray warning)."""

from __future__ import annotations

import functools
import gzip
import io
import itertools
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.formats_helpers import (
    extension_record,
    spz_bytes,
    spz_v4_bytes,
    stored_scene,
    write_compressed_ply,
)
from viewer.errors import SceneError
from viewer.formats import load_scene, save_scene
from viewer.scene import GaussianScene

pytestmark = pytest.mark.filterwarnings(
    "error",
    "ignore::viewer.scene.DroppedGaussiansWarning",
    "ignore::viewer.formats.spz.SpzWarning",  # SH degree 4, antialiased flag
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_names = itertools.count()


@functools.cache
def seed_files(folder: Path) -> dict[str, bytes]:
    """Small valid files of every readable kind, name -> bytes."""
    scene = stored_scene(300, 1, seed=3)
    save_scene(stored_scene(12, 1), folder / "inria.ply")
    save_scene(scene, folder / "scene.splat")
    write_compressed_ply(scene, folder / "compressed.ply")
    files = {name: (folder / name).read_bytes() for name in ("inria.ply", "scene.splat")}
    files["compressed.ply"] = (folder / "compressed.ply").read_bytes()
    files["v2.spz"] = spz_bytes(stored_scene(12, 1), version=2)
    files["v3.spz"] = spz_bytes(stored_scene(12, 2), version=3)
    files["v4.spz"] = spz_v4_bytes(stored_scene(12, 2), extensions=extension_record(7, b"ext"))
    save_scene(scene, folder / "written.spz")
    files["written.spz"] = (folder / "written.spz").read_bytes()
    save_scene(scene, folder / "written.compressed.ply")
    files["written.compressed.ply"] = (folder / "written.compressed.ply").read_bytes()
    for name in ("written.sog", "written.glb"):
        save_scene(stored_scene(40, 1), folder / name)
        files[name] = (folder / name).read_bytes()
    return files


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def assert_scene_or_scene_error(folder: Path, name: str, data: bytes) -> None:
    path = folder / f"{next(_names)}_{name}"
    path.write_bytes(data)
    try:
        assert isinstance(load_scene(path), GaussianScene)
    except SceneError as error:
        assert error.path == str(path) and "\n" not in error.problem
    finally:
        path.unlink()


NAMES = st.sampled_from(
    [
        "inria.ply",
        "compressed.ply",
        "scene.splat",
        "v2.spz",
        "v3.spz",
        "v4.spz",
        "written.spz",
        "written.compressed.ply",
        "written.sog",
        "written.glb",
    ]
)
MAGICS = st.sampled_from(
    [
        b"",
        b"ply\n",
        b"ply\nformat binary_little_endian 1.0\n",
        b"\x1f\x8b",
        b"NGSP\x04\0\0\0",
        b"PK\x03\x04",
        b"glTF\x02\0\0\0",
    ]
)


@FUZZ
@given(
    magic=MAGICS,
    data=st.binary(max_size=2048),
    suffix=st.sampled_from([".ply", ".splat", ".spz", ".sog", ".glb", "meta.json"]),
)
def test_random_bytes(folder: Path, magic: bytes, data: bytes, suffix: str) -> None:
    assert_scene_or_scene_error(folder, f"random{suffix}", magic + data)


@FUZZ
@given(name=NAMES, cut=st.floats(0.0, 1.0))
def test_truncated_files(folder: Path, name: str, cut: float) -> None:
    data = seed_files(folder)[name]
    assert_scene_or_scene_error(folder, name, data[: int(cut * len(data))])


@FUZZ
@given(
    name=NAMES,
    flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 7)), min_size=1, max_size=6),
)
def test_bit_flips(folder: Path, name: str, flips: list[tuple[int, int]]) -> None:
    data = bytearray(seed_files(folder)[name])
    for position, bit in flips:
        data[position % len(data)] ^= 1 << bit
    assert_scene_or_scene_error(folder, name, bytes(data))


@FUZZ
@given(
    name=st.sampled_from(["v2.spz", "v3.spz"]),
    flips=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 7)), min_size=1, max_size=6),
    cut=st.integers(0, 64),
)
def test_spz_payload_bit_flips(
    folder: Path, name: str, flips: list[tuple[int, int]], cut: int
) -> None:
    payload = bytearray(gzip.decompress(seed_files(folder)[name]))
    for position, bit in flips:
        payload[position % len(payload)] ^= 1 << bit
    assert_scene_or_scene_error(
        folder, name, gzip.compress(bytes(payload[: len(payload) - cut]), mtime=0)
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


def _fields(node: object) -> list[tuple[dict | list, object]]:
    """Every (container, key or index) inside a JSON document, depth first."""
    found: list[tuple[dict | list, object]] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else []
    )
    for key, value in items:
        found.append((node, key))  # type: ignore[arg-type]
        found += _fields(value)
    return found


def _assert_meta_field(folder: Path, index: int, value: object) -> None:
    """The seed .sog with field `index` of its meta.json (`_fields`, wrapping) set to `value`:
    read as a scene or refused with a SceneError."""
    with zipfile.ZipFile(io.BytesIO(seed_files(folder)["written.sog"])) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["meta.json"])
    fields = _fields(meta)
    container, key = fields[index % len(fields)]
    container[key] = value  # type: ignore[index]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in (members | {"meta.json": json.dumps(meta).encode()}).items():
            archive.writestr(name, data)
    assert_scene_or_scene_error(folder, "meta.sog", out.getvalue())


@FUZZ
@given(field=st.integers(0, 10_000), value=JSON_VALUES)
def test_sog_meta_fields(folder: Path, field: int, value: object) -> None:
    _assert_meta_field(folder, field, value)


def test_sog_meta_unhashable_values_in_every_named_field(folder: Path) -> None:
    """A list or an object where meta.json has any named field: a SceneError, never a TypeError
    (`bands` and `version` were looked up in a dict and a tuple: a list is unhashable)."""
    with zipfile.ZipFile(io.BytesIO(seed_files(folder)["written.sog"])) as archive:
        meta = json.loads(archive.read("meta.json"))
    for index, (container, _) in enumerate(_fields(meta)):
        if isinstance(container, dict):
            for value in ([], {}):
                _assert_meta_field(folder, index, value)
