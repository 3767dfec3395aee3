"""The original trainer's network GUI protocol (graphdeco-inria `network_gui.py`), pure.

The trainer listens; the viewer connects and sends requests, one reply each:

- request: a 4-byte little-endian length, then that many bytes of UTF-8 JSON (`request_fields`).
- reply: width * height * 3 bytes of 8-bit RGB, rows top to bottom (none when the request's
  resolution is 0), then a 4-byte little-endian length and the trainer's source path.

Matrices travel as 16 numbers, column-major, in OpenGL's camera axes (x right, y up, looking
down -z); the trainer flips y and z of the view (and y of the projection) into its own axes.
See docs/design_log.md ("The original trainer's network GUI").
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.camera import Camera

LENGTH_BYTES = 4
MAX_MESSAGE_BYTES = 64 * 1024  # a request is ~1 KiB
MAX_PATH_BYTES = 64 * 1024  # a source path longer than this is no path: the stream is off
MAX_IMAGE_SIDE = 8192  # pixels: larger requests are refused (an image is side^2 * 3 bytes)
Z_NEAR, Z_FAR = 0.01, 100.0  # kept by the trainer with the camera; the projection comes from us
GL_FROM_CV = np.diag([1.0, -1.0, -1.0, 1.0])  # OpenCV camera axes -> OpenGL camera axes


class ProtocolError(ValueError):
    """A message that does not follow the protocol (the reason in words)."""


@dataclass(frozen=True)
class RemoteSwitches:
    """What the viewer asks of the trainer besides the camera.

    Attributes:
        train: keep training between requests (off: the trainer only renders).
        keep_alive: at the last iteration, keep serving while connected.
        scaling_modifier: factor on every Gaussian's scale in the trainer's render.
        shs_python, rot_scale_python: compute SH colours / covariances in PyTorch (debugging).
    """

    train: bool = True
    keep_alive: bool = True
    scaling_modifier: float = 1.0
    shs_python: bool = False
    rot_scale_python: bool = False


def gl_view_matrix(camera: Camera) -> np.ndarray:
    """[4, 4] float64 world -> OpenGL camera axes."""
    view: np.ndarray = GL_FROM_CV @ camera.world_to_camera
    return view


def gl_projection(camera: Camera, z_near: float, z_far: float) -> np.ndarray:
    """[4, 4] float64 OpenGL projection of `camera`'s pinhole (principal point included)."""
    w, h = camera.width, camera.height
    depth = z_far - z_near
    return np.array(
        [
            [2.0 * camera.fx / w, 0.0, 1.0 - 2.0 * camera.cx / w, 0.0],
            [0.0, 2.0 * camera.fy / h, 2.0 * camera.cy / h - 1.0, 0.0],
            [0.0, 0.0, -(z_far + z_near) / depth, -2.0 * z_far * z_near / depth],
            [0.0, 0.0, -1.0, 0.0],
        ]
    )


def request_fields(
    camera: Camera, switches: RemoteSwitches, z_near: float = Z_NEAR, z_far: float = Z_FAR
) -> dict[str, Any]:
    """The request's JSON object for an image of `camera`'s size and view.

    Raises:
        ProtocolError: for an image side over MAX_IMAGE_SIDE or planes not 0 < near < far.
    """
    if max(camera.width, camera.height) > MAX_IMAGE_SIDE:
        raise ProtocolError(
            f"a {camera.width}x{camera.height} image is over the {MAX_IMAGE_SIDE} pixel limit"
        )
    if not 0.0 < z_near < z_far:
        raise ProtocolError(f"clipping planes {z_near}, {z_far} are not 0 < near < far")
    tan_x, tan_y = camera.tan_half_fov
    view = gl_view_matrix(camera)
    view_projection = gl_projection(camera, z_near, z_far) @ view
    return {
        "resolution_x": camera.width,
        "resolution_y": camera.height,
        "train": switches.train,
        "fov_y": 2.0 * math.atan(tan_y),
        "fov_x": 2.0 * math.atan(tan_x),
        "z_near": z_near,
        "z_far": z_far,
        "shs_python": switches.shs_python,
        "rot_scale_python": switches.rot_scale_python,
        "keep_alive": switches.keep_alive,
        "scaling_modifier": switches.scaling_modifier,
        "view_matrix": view.flatten(order="F").tolist(),
        "view_projection_matrix": view_projection.flatten(order="F").tolist(),
    }


def encode_request(fields: dict[str, Any]) -> bytes:
    """The request on the wire: length, then the JSON.

    Raises:
        ProtocolError: for non-finite numbers or a message over MAX_MESSAGE_BYTES.
    """
    try:
        payload = json.dumps(fields, allow_nan=False).encode("utf-8")
    except ValueError as exc:
        raise ProtocolError(f"the request cannot be sent: {exc}") from exc
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"a {len(payload):,} byte request is over {MAX_MESSAGE_BYTES:,}")
    return len(payload).to_bytes(LENGTH_BYTES, "little") + payload


@dataclass(frozen=True)
class Reply:
    """One decoded reply.

    Attributes:
        image: [H, W, 3] uint8, rows top to bottom; None when the request asked for none.
        source_path: the trainer's dataset path, as it sent it.
    """

    image: np.ndarray | None
    source_path: str


class ReplyDecoder:
    """Decodes the reply to one request from the bytes as they come (`feed`).

    `missing` is how many more bytes the reply needs at least; a reader asks for no more, so
    bytes of a later reply are never taken into this one.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.image_bytes = width * height * 3
        self._buffer = bytearray()
        self._path_bytes: int | None = None  # known once the length after the image came
        self.reply: Reply | None = None

    @property
    def received(self) -> int:
        """Bytes taken so far."""
        return len(self._buffer)

    @property
    def missing(self) -> int:
        """Bytes the reply still needs (0: done)."""
        if self.reply is not None:
            return 0
        header_end = self.image_bytes + LENGTH_BYTES
        if self._path_bytes is None:
            return header_end - len(self._buffer)
        return header_end + self._path_bytes - len(self._buffer)

    def feed(self, data: bytes) -> None:
        """Take `data` (bytes of this reply only: a reader asks for `missing` at most).

        Raises:
            ProtocolError: for bytes beyond the reply, or a path length over MAX_PATH_BYTES
                (an image shorter than asked shifts the stream onto one).
        """
        while data:
            if self.reply is not None:
                raise ProtocolError(f"{len(data):,} bytes came after the end of the reply")
            take, data = data[: self.missing], data[self.missing :]
            self._buffer += take
            self._parse()

    def _parse(self) -> None:
        header_end = self.image_bytes + LENGTH_BYTES
        if self._path_bytes is None and len(self._buffer) >= header_end:
            length = int.from_bytes(self._buffer[self.image_bytes : header_end], "little")
            if length > MAX_PATH_BYTES:
                raise ProtocolError(
                    f"the source path's length reads {length:,} bytes (at most "
                    f"{MAX_PATH_BYTES:,}): a malformed length, or an image shorter than "
                    f"{self.width}x{self.height}x3 = {self.image_bytes:,} bytes"
                )
            self._path_bytes = length
        if self._path_bytes is not None and self.missing == 0:
            self._finish()

    def _finish(self) -> None:
        image = None
        if self.image_bytes:
            pixels = np.frombuffer(bytes(self._buffer[: self.image_bytes]), np.uint8)
            image = pixels.reshape(self.height, self.width, 3)
        path = bytes(self._buffer[self.image_bytes + LENGTH_BYTES :])
        self.reply = Reply(image, path.decode("utf-8", errors="replace"))


def parse_address(text: str) -> tuple[str, int]:
    """(host, port) of "HOST:PORT" ("[::1]:6009" for an IPv6 host).

    Raises:
        ValueError: naming what is wrong.
    """
    host, colon, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host:
        raise ValueError(f"{text!r} is not HOST:PORT (the trainer's --ip and --port)")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{port!r} is not a port number (1 to 65535)")
    return host, int(port)
