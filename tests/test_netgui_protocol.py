"""The network GUI protocol, without sockets: requests as the original trainer reads them,
replies decoded from any split of their bytes, malformed and fuzzed replies refused."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from viewer.camera import Camera
from viewer.cli import main
from viewer.netgui.protocol import (
    MAX_IMAGE_SIDE,
    MAX_PATH_BYTES,
    ProtocolError,
    RemoteSwitches,
    ReplyDecoder,
    encode_request,
    parse_address,
    request_fields,
)

FIELDS = {
    "resolution_x", "resolution_y", "train", "fov_y", "fov_x", "z_near", "z_far", "shs_python",
    "rot_scale_python", "keep_alive", "scaling_modifier", "view_matrix", "view_projection_matrix",
}  # fmt: skip


def trainer_matrices(fields: dict) -> tuple[np.ndarray, np.ndarray]:
    """The trainer's reading: 16 numbers reshaped row by row; view columns 1 and 2 negated, the
    projection's column 1 (its matrices multiply row vectors: points are p @ M)."""
    view = np.reshape(np.array(fields["view_matrix"]), (4, 4))
    view[:, 1] = -view[:, 1]
    view[:, 2] = -view[:, 2]
    full = np.reshape(np.array(fields["view_projection_matrix"]), (4, 4))
    full[:, 1] = -full[:, 1]
    return view, full


def camera() -> Camera:
    base = Camera.look_at((1.0, -2.0, 3.0), (0.2, 0.1, -0.3), up=(0.0, -1.0, 0.0), width=320,
                          height=200, fov_y_degrees=60.0)  # fmt: skip
    return Camera(320, 200, base.fx, base.fy * 1.1, 150.0, 107.0, base.world_to_camera)


def test_request_has_the_original_fields_and_framing() -> None:
    switches = RemoteSwitches(train=False, keep_alive=True, scaling_modifier=0.5)
    fields = request_fields(camera(), switches, 0.01, 50.0)
    assert set(fields) == FIELDS
    wire = encode_request(fields)
    assert int.from_bytes(wire[:4], "little") == len(wire) - 4
    read = json.loads(wire[4:].decode("utf-8"))
    assert (read["resolution_x"], read["resolution_y"]) == (320, 200)
    assert (read["train"], read["keep_alive"], read["scaling_modifier"]) == (False, True, 0.5)
    assert (read["z_near"], read["z_far"]) == (0.01, 50.0)
    tan_x, tan_y = camera().tan_half_fov
    assert read["fov_x"] == pytest.approx(2.0 * math.atan(tan_x))
    assert read["fov_y"] == pytest.approx(2.0 * math.atan(tan_y))


def test_the_trainer_renders_the_view_the_camera_shows() -> None:
    """Points projected through the trainer's matrices land on the camera's pixels (its
    rasterizer: pixel = ((ndc + 1) * size - 1) / 2, centres on integers) at its depth."""
    cam = camera()
    view, full = trainer_matrices(request_fields(cam, RemoteSwitches(), 0.01, 100.0))
    rng = np.random.default_rng(0)
    pixels = rng.uniform((0, 0), (cam.width, cam.height), (20, 2))
    depths = rng.uniform(0.5, 20.0, 20)
    for (u, v), depth in zip(pixels, depths, strict=True):
        point = np.append(cam.unproject(u, v, depth), 1.0)
        assert (point @ view)[2] == pytest.approx(depth)
        clip = point @ full
        ndc = clip[:2] / clip[3]
        pixel = ((ndc + 1.0) * (cam.width, cam.height) - 1.0) / 2.0
        np.testing.assert_allclose(pixel, (u - 0.5, v - 0.5), atol=1e-6)


@pytest.mark.parametrize(
    ("size", "planes", "words"),
    [
        ((MAX_IMAGE_SIDE + 1, 10), (0.01, 10.0), "pixel limit"),
        ((64, 64), (0.0, 10.0), "near < far"),
        ((64, 64), (5.0, 1.0), "near < far"),
    ],
)
def test_requests_refused(size: tuple[int, int], planes: tuple[float, float], words: str) -> None:
    cam = Camera.look_at((0, 0, 5), (0, 0, 0), width=size[0], height=size[1])
    with pytest.raises(ProtocolError, match=words):
        request_fields(cam, RemoteSwitches(), *planes)


def test_non_finite_numbers_are_not_sent() -> None:
    fields = request_fields(camera(), RemoteSwitches(scaling_modifier=math.nan), 0.01, 10.0)
    with pytest.raises(ProtocolError, match="cannot be sent"):
        encode_request(fields)


def reply_bytes(image: bytes, path: bytes) -> bytes:
    return image + len(path).to_bytes(4, "little") + path


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 7),
    height=st.integers(1, 5),
    path=st.text(max_size=40),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_replies_decode_from_any_split(width: int, height: int, path: str, cuts: list[int]) -> None:
    image = np.arange(width * height * 3, dtype=np.uint8).reshape(height, width, 3)
    wire = reply_bytes(image.tobytes(), path.encode("utf-8"))
    decoder = ReplyDecoder(width, height)
    start = 0
    for cut in sorted({c for c in cuts if c < len(wire)} | {len(wire)}):
        assert decoder.reply is None
        decoder.feed(wire[start:cut])
        start = cut
    assert decoder.reply is not None and decoder.missing == 0
    assert decoder.reply.image is not None
    np.testing.assert_array_equal(decoder.reply.image, image)
    assert decoder.reply.source_path == path


def test_a_reply_without_image() -> None:
    decoder = ReplyDecoder(0, 0)
    decoder.feed(reply_bytes(b"", b"/data/x"))
    assert decoder.reply is not None
    assert decoder.reply.image is None and decoder.reply.source_path == "/data/x"


def test_a_malformed_length_is_refused_without_waiting_for_it() -> None:
    decoder = ReplyDecoder(2, 2)
    with pytest.raises(ProtocolError, match="malformed length"):
        decoder.feed(bytes(12) + (MAX_PATH_BYTES + 1).to_bytes(4, "little"))


def test_a_short_image_shifts_the_stream_onto_a_refused_length() -> None:
    """Half an image, its path, then the next reply's pixels: read as a path length."""
    decoder = ReplyDecoder(4, 4)
    short = reply_bytes(bytes(24), b"/data/x") + b"\xff" * 48
    with pytest.raises(ProtocolError, match="shorter than 4x4x3"):
        decoder.feed(short[: decoder.missing])


def test_more_bytes_than_the_reply_are_refused() -> None:
    decoder = ReplyDecoder(1, 1)
    with pytest.raises(ProtocolError, match="after the end of the reply"):
        decoder.feed(reply_bytes(b"abc", b"") + b"x")


@settings(max_examples=200, deadline=None)
@given(width=st.integers(0, 4), height=st.integers(0, 4), data=st.binary(max_size=200))
def test_fuzzed_replies_decode_or_are_refused(width: int, height: int, data: bytes) -> None:
    decoder = ReplyDecoder(width, height)
    try:
        while data and decoder.missing:
            take, data = data[: decoder.missing], data[decoder.missing :]
            decoder.feed(take)
    except ProtocolError:
        return
    if decoder.reply is not None:
        assert decoder.missing == 0


@pytest.mark.parametrize(
    ("text", "address"),
    [("127.0.0.1:6009", ("127.0.0.1", 6009)), ("[::1]:7", ("::1", 7)), ("gpu-7:80", ("gpu-7", 80))],
)
def test_addresses(text: str, address: tuple[str, int]) -> None:
    assert parse_address(text) == address


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--network-gui", "6009"], "is not HOST:PORT"),
        (["--network-gui", "host:0"], "is not a port number"),
        (["--network-gui", "host:http"], "is not a port number"),
        (["scene.ply", "--network-gui", "host:6009"], "give no scene"),
    ],
)
def test_bad_network_gui_flags_are_one_line(
    args: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["view", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0]
