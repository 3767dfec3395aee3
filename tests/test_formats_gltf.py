"""glTF 2.0 JSON (.gltf) with KHR_gaussian_splatting: read as the .glb it was made from.

Each .gltf here is made by test code from a .glb our writer wrote: its JSON chunk, with buffer 0
given a uri, and its BIN chunk as a .bin beside it or as a base64 data URI.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.formats_helpers import stored_scene
from tests.test_formats_glb import split
from tests.test_hostile_inputs import fails
from viewer.formats import load_scene, save_scene
from viewer.scene import GaussianScene


def gltf_from_glb(glb: Path, folder: Path, uri: str | None = None) -> Path:
    """scene.gltf in `folder` from `glb`; its buffer in a file named by `uri` (percent-encoded,
    'scene.bin' when None), or a data URI when `uri` starts with 'data:' (the base64 appended)."""
    document, binary = split(glb.read_bytes())
    uri = "scene.bin" if uri is None else uri
    if uri.startswith("data:"):
        uri += base64.b64encode(binary).decode("ascii")
    else:
        (folder / uri.replace("%20", " ")).write_bytes(binary)
    document["buffers"][0]["uri"] = uri
    path = folder / "scene.gltf"
    path.write_text(json.dumps(document, indent=1))
    return path


def assert_same(loaded: GaussianScene, glb: GaussianScene) -> None:
    assert loaded.count == glb.count and loaded.sh_degree == glb.sh_degree
    assert loaded.file_format == "glTF 2.0 (.gltf, KHR_gaussian_splatting)"
    for name in ("means", "rotations", "scales", "log_scales", "opacities", "sh"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(glb, name), err_msg=name)


@pytest.fixture
def glb(tmp_path: Path) -> Path:
    path = tmp_path / "written.glb"
    save_scene(stored_scene(200, 3), path)
    return path


@pytest.mark.parametrize(
    "uri",
    [
        None,
        "my%20scene.bin",
        "data:application/octet-stream;base64,",
        "data:application/gltf-buffer;base64,",
    ],
)
def test_gltf_reads_as_its_glb(tmp_path: Path, glb: Path, uri: str | None) -> None:
    folder = tmp_path / "gltf"
    folder.mkdir()
    path = gltf_from_glb(glb, folder, uri)
    assert_same(load_scene(path), load_scene(glb))


def test_a_buffer_file_longer_than_its_byte_length_is_read_to_it(tmp_path: Path, glb: Path) -> None:
    path = gltf_from_glb(glb, tmp_path)
    with (tmp_path / "scene.bin").open("ab") as file:
        file.write(b"trailing bytes")
    assert_same(load_scene(path), load_scene(glb))


def edit(path: Path, **buffer: Any) -> None:
    """Update buffer 0 of the .gltf at `path`."""
    document = json.loads(path.read_text())
    document["buffers"][0].update(buffer)
    path.write_text(json.dumps(document))


def test_hostile_buffers_fail_in_one_line(
    tmp_path: Path, glb: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    path = gltf_from_glb(glb, folder)
    binary = (folder / "scene.bin").read_bytes()
    (tmp_path / "outside.bin").write_bytes(binary)
    (folder / "link.bin").symlink_to(tmp_path / "outside.bin")
    (folder / "short.bin").write_bytes(binary[:-4])
    out = tmp_path / "out.ply"
    data = "data:application/octet-stream;base64,"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"uri": str(tmp_path / "outside.bin")}, "leaves the scene's folder"),
        ({"uri": "../outside.bin"}, "leaves the scene's folder"),
        ({"uri": "%2E%2E/outside.bin"}, "leaves the scene's folder"),
        ({"uri": "link.bin"}, "is a link that leaves the scene's folder"),
        ({"uri": "http://example.com/scene.bin"}, "is a 'http:' URI"),
        ({"uri": f"file://{tmp_path / 'outside.bin'}"}, "is a 'file:' URI"),
        ({"uri": "short.bin"}, "shorter than its byteLength"),
        ({"uri": "missing.bin"}, "no such file"),
        ({"byteLength": 1 << 50}, "memory"),
        ({"uri": data + base64.b64encode(binary[:-3]).decode()}, "its data URI holds"),
        ({"uri": data + base64.b64encode(binary + b"1234").decode()}, "holds more than"),
        ({"uri": data + "@@@@"}, "not base64"),
        ({"uri": "data:text/plain,hello"}, "data URI of 'text/plain'"),
        ({"uri": None}, "has no uri"),
    ]  # fmt: skip
    for buffer, fragment in cases:
        path = gltf_from_glb(glb, folder)
        edit(path, **buffer)
        line = fails(capsys, "convert", str(path), str(out), fragments=(fragment,))
        assert str(path) in line, line
        assert not out.exists()
    assert len(list(tmp_path.glob("out.*"))) == 0


def test_malformed_gltf_json_fails_naming_the_file(tmp_path: Path) -> None:
    from viewer.errors import SceneError

    path = tmp_path / "broken.gltf"
    for text, match in [("{not json", "not a glTF 2.0 JSON file"), ("[]", "not a JSON object")]:
        path.write_text(text)
        with pytest.raises(SceneError, match=match) as error:
            load_scene(path)
        assert str(path) in str(error.value)
