"""glTF binary (.glb) with KHR_gaussian_splatting: exact round trips, the attributes and axes the
extension defines (checked on the JSON and binary chunks directly), files made by hand in other
layouts (normalised integers, interleaved views, COLOR_0 only), and bad files refused."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import DONUT_CAMERA, scene_path
from tests.formats_helpers import spz_bytes, stored_scene
from viewer.errors import SceneError
from viewer.formats import describe_losses, load_scene, save_scene
from viewer.formats.glb_write import glb_bytes
from viewer.sh import C0

PREFIX = "KHR_gaussian_splatting:"


def split(data: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON document and the BIN chunk of a .glb, parsed here by the container's rules."""
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<II", data, 12)
    assert json_type == 0x4E4F534A and json_length % 4 == 0
    document = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<II", data, 20 + json_length)
    assert bin_type == 0x004E4942 and bin_length % 4 == 0
    return document, data[28 + json_length : 28 + json_length + bin_length]


def join(document: dict[str, Any], binary: bytes) -> bytes:
    """A .glb of a JSON document and a BIN chunk."""
    text = json.dumps(document).encode()
    text += b" " * (-len(text) % 4)
    binary += bytes(-len(binary) % 4)
    total = 28 + len(text) + len(binary)
    return (
        struct.pack("<4sII", b"glTF", 2, total)
        + struct.pack("<II", len(text), 0x4E4F534A)
        + text
        + struct.pack("<II", len(binary), 0x004E4942)
        + binary
    )


def attribute(document: dict[str, Any], binary: bytes, name: str) -> np.ndarray:
    """A float32 attribute of the first primitive (tightly packed, as the writer lays it out)."""
    index = document["meshes"][0]["primitives"][0]["attributes"][name]
    accessor = document["accessors"][index]
    view = document["bufferViews"][accessor["bufferView"]]
    width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4}[accessor["type"]]
    dtype = np.uint8 if accessor["componentType"] == 5121 else np.float32
    values = np.frombuffer(binary, dtype, accessor["count"] * width, view["byteOffset"])
    return values.reshape(-1, width)


@pytest.mark.parametrize("degree", [0, 1, 2, 3])
def test_round_trip_is_exact(tmp_path: Path, degree: int) -> None:
    scene = stored_scene(300, degree)
    save_scene(scene, tmp_path / "scene.glb")
    loaded = load_scene(tmp_path / "scene.glb")
    assert loaded.count == 300 and loaded.sh_degree == degree
    assert loaded.file_format == "glTF 2.0 binary (.glb, KHR_gaussian_splatting)"
    np.testing.assert_array_equal(loaded.means, scene.means)
    np.testing.assert_array_equal(loaded.scales, scene.scales)
    np.testing.assert_array_equal(loaded.opacities, scene.opacities)
    np.testing.assert_array_equal(loaded.sh, scene.sh)
    np.testing.assert_allclose(loaded.rotations, scene.rotations, atol=1e-6)


def test_attributes_and_axes_follow_the_extension() -> None:
    scene = stored_scene(50, 3)
    document, binary = split(glb_bytes(scene))
    assert document["extensionsUsed"] == ["KHR_gaussian_splatting"]
    primitive = document["meshes"][0]["primitives"][0]
    assert primitive["mode"] == 0
    assert primitive["extensions"]["KHR_gaussian_splatting"] == {
        "kernel": "ellipse",
        "colorSpace": "srgb_rec709_display",
    }
    names = set(primitive["attributes"])
    sh = {f"{PREFIX}SH_DEGREE_{d}_COEF_{c}" for d in range(4) for c in range(2 * d + 1)}
    assert (
        names
        == {"POSITION", "COLOR_0", *(PREFIX + n for n in ("ROTATION", "SCALE", "OPACITY"))} | sh
    )
    flip = np.array([-1, -1, 1], np.float32)  # .ply axes turned 180 degrees about Z
    position = attribute(document, binary, "POSITION")
    np.testing.assert_array_equal(position, scene.means * flip)
    accessor = document["accessors"][primitive["attributes"]["POSITION"]]
    np.testing.assert_allclose(accessor["min"], position.min(axis=0))
    np.testing.assert_array_equal(attribute(document, binary, PREFIX + "SCALE"), scene.scales)
    np.testing.assert_array_equal(
        attribute(document, binary, PREFIX + "OPACITY")[:, 0], scene.opacities
    )
    w, x, y, z = scene.rotations.T
    xyzw = attribute(document, binary, PREFIX + "ROTATION")
    np.testing.assert_allclose(xyzw, np.stack([-x, -y, z, w], axis=1), atol=1e-7)
    dc = attribute(document, binary, PREFIX + "SH_DEGREE_0_COEF_0")
    np.testing.assert_array_equal(dc, scene.sh[:, 0])
    # degree 1 is (y, z, x): y and x change sign under the turn, z does not
    for c, sign in enumerate((-1, 1, -1)):
        values = attribute(document, binary, f"{PREFIX}SH_DEGREE_1_COEF_{c}")
        np.testing.assert_array_equal(values, sign * scene.sh[:, 1 + c])
    colour = attribute(document, binary, "COLOR_0")
    expected = np.clip(np.rint((0.5 + C0 * scene.sh[:, 0]) * 255), 0, 255)
    np.testing.assert_array_equal(colour[:, :3], expected)


def test_render_of_the_round_trip_matches_the_source(tmp_path: Path) -> None:
    from viewer.camera import Camera
    from viewer.reference import render_scene_reference
    from viewer.settings import RenderSettings

    source = load_scene(scene_path("donut.ply"))
    save_scene(source, tmp_path / "donut.glb")
    camera, settings = Camera.from_dict(DONUT_CAMERA), RenderSettings(background=(1, 1, 1))
    expected = render_scene_reference(source, camera, settings)
    actual = render_scene_reference(load_scene(tmp_path / "donut.glb"), camera, settings)
    mse = float(np.mean((actual - expected) ** 2))
    assert mse == 0.0 or 10 * np.log10(1 / mse) >= 40


def hand_made(count: int = 3) -> tuple[dict[str, Any], bytes, dict[str, np.ndarray]]:
    """A .glb made here: positions and opacities interleaved in one view, rotations as
    normalised shorts, scales as floats, colour only through COLOR_0 (unsigned bytes)."""
    rng = np.random.default_rng(5)
    means = rng.normal(size=(count, 3)).astype(np.float32)
    opacity = np.array([0.25, 0.5, 1.0][:count], np.float32)
    q = np.array([[0, 0, 0, 32767], [32767, 0, 0, 0], [0, -32767, 0, 0]][:count], np.int16)
    scales = np.array([[0.1, 0.2, 0.3]] * count, np.float32)
    colour = np.array([[255, 0, 128, 255]] * count, np.uint8)
    interleaved = np.zeros((count, 4), np.float32)
    interleaved[:, :3], interleaved[:, 3] = means, opacity
    binary = interleaved.tobytes() + q.tobytes() + scales.tobytes() + colour.tobytes()
    sizes = [interleaved.nbytes, q.nbytes, scales.nbytes, colour.nbytes]
    offsets = np.cumsum([0, *sizes[:-1]]).tolist()
    views = [{"buffer": 0, "byteOffset": offsets[i], "byteLength": sizes[i]} for i in range(4)]
    views[0]["byteStride"] = 16
    accessors = [
        {"bufferView": 0, "componentType": 5126, "count": count, "type": "VEC3"},
        {
            "bufferView": 0,
            "byteOffset": 12,
            "componentType": 5126,
            "count": count,
            "type": "SCALAR",
        },
        {
            "bufferView": 1,
            "componentType": 5122,
            "normalized": True,
            "count": count,
            "type": "VEC4",
        },
        {"bufferView": 2, "componentType": 5126, "count": count, "type": "VEC3"},
        {
            "bufferView": 3,
            "componentType": 5121,
            "normalized": True,
            "count": count,
            "type": "VEC4",
        },
    ]
    attributes = {"POSITION": 0, PREFIX + "OPACITY": 1, PREFIX + "ROTATION": 2, PREFIX + "SCALE": 3}
    document = {
        "asset": {"version": "2.0"},
        "nodes": [{"mesh": 0}],
        "meshes": [
            {
                "primitives": [
                    {
                        "mode": 0,
                        "attributes": attributes | {"COLOR_0": 4},
                        "extensions": {"KHR_gaussian_splatting": {"kernel": "ellipse"}},
                    }
                ]
            }
        ],
        "buffers": [{"byteLength": len(binary)}],
        "bufferViews": views,
        "accessors": accessors,
    }
    return document, binary, {"means": means, "opacity": opacity, "scales": scales}


def test_other_layouts_are_read(tmp_path: Path) -> None:
    document, binary, truth = hand_made()
    (tmp_path / "hand.glb").write_bytes(join(document, binary))
    scene = load_scene(tmp_path / "hand.glb")
    np.testing.assert_allclose(scene.means, truth["means"] * [-1, -1, 1], rtol=1e-6)
    np.testing.assert_allclose(scene.opacities, truth["opacity"])
    np.testing.assert_allclose(scene.scales, truth["scales"])
    # xyzw (0,0,0,1), (1,0,0,0), (0,-1,0,0) -> wxyz, then turned: x and y negated
    np.testing.assert_allclose(scene.rotations, [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_allclose(0.5 + C0 * scene.sh[:, 0], [[1, 0, 128 / 255]] * 3, atol=1e-6)


def bad(tmp_path: Path, data: bytes, match: str) -> None:
    (tmp_path / "bad.glb").write_bytes(data)
    with pytest.raises(SceneError, match=match) as error:
        load_scene(tmp_path / "bad.glb")
    assert "\n" not in str(error.value)


def test_bad_containers(tmp_path: Path) -> None:
    data = glb_bytes(stored_scene(20, 1))
    bad(tmp_path, data[: len(data) - 10], "truncated: the header declares")
    cut = bytearray(data[:100])
    cut[8:12] = struct.pack("<I", 100)
    bad(tmp_path, bytes(cut), "truncated: a chunk of")
    bad(tmp_path, b"glTF" + struct.pack("<II", 1, 20) + bytes(8), "glTF binary version 1")
    document, binary = split(data)
    bad(tmp_path, join(document, binary)[:20] + b"{not json" + bytes(100), "truncated|not JSON")


def splats(document: dict[str, Any]) -> dict[str, Any]:
    """The KHR_gaussian_splatting object of the first primitive."""
    return document["meshes"][0]["primitives"][0]["extensions"]["KHR_gaussian_splatting"]


def edited(change: Callable[[dict[str, Any]], object]) -> bytes:
    document, binary, _ = hand_made()
    change(document)
    return join(document, binary)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d["accessors"][0].update(count=1000), "run past their buffer view"),
        (lambda d: d["bufferViews"][2].update(byteLength=10_000), "run past their buffer view"),
        (lambda d: d["accessors"][0].update(type="VEC4"), "POSITION is 'VEC4', not VEC3"),
        (lambda d: d["accessors"][3].update(componentType=7), "component type 7"),
        (lambda d: d["accessors"][0].update(sparse={}), "sparse accessors"),
        (lambda d: d["buffers"][0].update(uri="x.bin"), "external buffer"),
        (lambda d: d["nodes"][0].update(translation=[1, 0, 0]), "node transforms"),
        (lambda d: d["meshes"][0]["primitives"][0].update(mode=4), "must be POINTS"),
        (lambda d: d["meshes"][0]["primitives"][0]["attributes"].pop("COLOR_0"), "no colour"),
        (
            lambda d: d["meshes"][0]["primitives"][0]["attributes"].update(
                {PREFIX + "SH_DEGREE_1_COEF_0": 3}
            ),
            "SH degree 1 is only partly present",
        ),
        (lambda d: splats(d).update(extensions={"EXT_other": {}}), "extended by 'EXT_other'"),
        (
            lambda d: splats(d).update(extensions={"KHR_gaussian_splatting_compression_spz_2": {}}),
            "KHR_gaussian_splatting_compression_spz_2 names no bufferView",
        ),
        (lambda d: d["meshes"][0]["primitives"][0].pop("extensions"), "no mesh primitive carries"),
        (lambda d: d["accessors"][1].update(count=2), "different counts"),
        (lambda d: d["accessors"].clear(), "accessor 0 does not exist"),
    ],
)
def test_bad_documents(tmp_path: Path, change, match: str) -> None:
    bad(tmp_path, edited(change), match)


def test_spz_compressed_variant_reads_through_the_spz_reader(tmp_path: Path) -> None:
    scene = stored_scene(64, 2)
    blob = spz_bytes(scene)  # the .spz library's RUB storage, as packing from LUF gives
    (tmp_path / "same.spz").write_bytes(blob)
    document = {
        "asset": {"version": "2.0"},
        "extensionsUsed": ["KHR_gaussian_splatting", "KHR_gaussian_splatting_compression_spz_2"],
        "meshes": [
            {
                "primitives": [
                    {
                        "mode": 0,
                        "attributes": {"POSITION": 0},  # placeholders, without data
                        "extensions": {
                            "KHR_gaussian_splatting": {
                                "kernel": "ellipse",
                                "extensions": {
                                    "KHR_gaussian_splatting_compression_spz_2": {"bufferView": 0}
                                },
                            }
                        },
                    }
                ]
            }
        ],
        "buffers": [{"byteLength": len(blob)}],
        "bufferViews": [{"buffer": 0, "byteLength": len(blob)}],
        "accessors": [{"componentType": 5126, "count": 64, "type": "VEC3"}],
    }
    (tmp_path / "spz.glb").write_bytes(join(document, blob))
    loaded, direct = load_scene(tmp_path / "spz.glb"), load_scene(tmp_path / "same.spz")
    assert loaded.file_format.endswith("KHR_gaussian_splatting_compression_spz_2)")
    np.testing.assert_array_equal(loaded.means, direct.means)
    np.testing.assert_allclose(loaded.rotations, direct.rotations, atol=1e-7)
    np.testing.assert_array_equal(loaded.sh, direct.sh)
    np.testing.assert_allclose(loaded.scales, direct.scales, rtol=1e-6)
    document["bufferViews"][0]["byteLength"] = len(blob) + 8
    bad(tmp_path, join(document, blob), "runs past its buffer")


def test_losses_are_described() -> None:
    assert describe_losses(stored_scene(10, 1), "out.glb") == [
        "scales stored linear and opacities after the sigmoid, as KHR_gaussian_splatting "
        "defines: the log-scales and opacity logits are recomputed when read (float32 rounding)"
    ]
