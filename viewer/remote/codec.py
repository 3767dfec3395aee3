"""What the network messages hold, and their checked decoding.

A model crosses as two blocks of rows: the centres as float32 (a float16 centre would be off
by up to 1/2048 of its distance from the origin) and everything else (log-scales or scales,
quaternions, opacity, SH coefficients) as float16, clamped to float16's range. A delta holds the
rows whose encoded bytes differ from the copy sent last on that connection, with their indices.
Every decoder raises ValueError (FrameError is one) for anything it cannot use, so a peer's
bytes never reach the window or the training loop unchecked.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.camera import Camera
from viewer.protocol import LiveOptions, ModelUpdate, canonical
from viewer.remote.frames import MAX_PAYLOAD, VERSION, FrameError, Kind
from viewer.scene import DEGREE_FOR_SH_COEFFS
from viewer.setting_specs import specs
from viewer.settings import UP_AXES, LiveControls

FLOAT16_MAX = float(np.finfo(np.float16).max)
HEAD = struct.Struct(">I")  # length of a model message's JSON head
MAX_HEAD = 64 * 1024
MAX_NOTE = 500  # characters of a note, a refusal, a title
MAX_STATS = 16
MAX_CAMERAS = 10_000
FIXED = 8  # float16 columns before the SH: scales 3, quaternion 4, opacity 1
MAX_TOKEN = 256


@dataclass
class Packed:
    """A model as it crosses: centres [N, 3] float32, the rest [N, 8 + 3K] float16."""

    means: np.ndarray
    rest: np.ndarray

    @property
    def count(self) -> int:
        """Rows (Gaussians)."""
        return int(self.means.shape[0])

    @property
    def coefficients(self) -> int:
        """SH coefficients per colour channel."""
        return (int(self.rest.shape[1]) - FIXED) // 3

    def changed_rows(self, other: Packed) -> np.ndarray:
        """Indices of the rows whose bytes differ from `other`'s (of the same shape)."""
        means = np.any(self.means.view(np.uint32) != other.means.view(np.uint32), axis=1)
        rest = np.any(self.rest.view(np.uint16) != other.rest.view(np.uint16), axis=1)
        return np.flatnonzero(means | rest).astype(np.uint32)

    def tensors(self) -> dict[str, np.ndarray]:
        """The model as float32 arrays by the GPU scene's names (copies)."""
        rest = self.rest.astype(np.float32)
        return {
            "means": self.means.copy(), "scales": rest[:, 0:3], "rotations": rest[:, 3:7],
            "opacities": rest[:, 7], "sh": rest[:, FIXED:].reshape(self.count, -1, 3),
        }  # fmt: skip


def pack(tensors: dict[str, Any]) -> Packed:
    """Pack a trainer's tensors (torch, CPU or CUDA, or numpy; any ALIASES names).

    Raises:
        ValueError: as `viewer.protocol.check_parameters`.
    """
    model = canonical(tensors)
    n = int(model["means"].shape[0])
    parts = [model["scales"], model["rotations"], model["opacities"].reshape(n, 1),
             model["sh"].reshape(n, -1)]  # fmt: skip
    width = sum(int(np.prod(p.shape[1:])) for p in parts)
    if hasattr(model["means"], "detach"):
        import torch

        with torch.no_grad():
            means = model["means"].detach().to("cpu", torch.float32).numpy().copy()
            joined = torch.empty((n, width), dtype=torch.float16)
            column = 0
            for part in parts:
                step = int(np.prod(part.shape[1:]))
                joined[:, column : column + step].copy_(part.detach().reshape(n, step))
                column += step
            rest = joined.clamp_(-FLOAT16_MAX, FLOAT16_MAX).numpy()  # inf: the largest half
    else:
        means = np.array(model["means"], np.float32)
        rest = np.empty((n, width), np.float16)
        column = 0
        for part in parts:
            step = int(np.prod(part.shape[1:]))
            values = np.asarray(part, np.float32).reshape(n, step)
            rest[:, column : column + step] = np.clip(values, -FLOAT16_MAX, FLOAT16_MAX)
            column += step
    return Packed(np.ascontiguousarray(means), np.ascontiguousarray(rest))


# -- models --------------------------------------------------------------------------------------


def encode_model(update: ModelUpdate, model: Packed, last: Packed | None) -> bytes:
    """A MODEL payload: a delta against `last` where that is smaller, else a snapshot."""
    rows: np.ndarray | None = None
    if (
        last is not None
        and last.means.shape == model.means.shape
        and (last.rest.shape == model.rest.shape)
    ):
        changed = model.changed_rows(last)
        if len(changed) * 4 < (model.count - len(changed)) * _row_bytes(model):
            rows = changed
    stats = {name: value for name, value in update.stats.items() if math.isfinite(value)}
    head = {
        "serial": update.serial, "step": update.step, "raw": update.raw, "stats": stats,
        "sent_at": update.sent_at, "note": update.note[:MAX_NOTE],
        "count": model.count, "coefficients": model.coefficients,
        "rows": model.count if rows is None else len(rows), "delta": rows is not None,
    }  # fmt: skip
    text = json.dumps(head).encode()
    blocks = [HEAD.pack(len(text)), text]
    if rows is None:
        blocks += [model.means.tobytes(), model.rest.tobytes()]
    else:
        blocks += [rows.astype(">u4").tobytes(), model.means[rows].tobytes(),
                   model.rest[rows].tobytes()]  # fmt: skip
    return b"".join(blocks)


def _row_bytes(model: Packed) -> int:
    return 12 + 2 * int(model.rest.shape[1])


@dataclass(frozen=True)
class ModelMessage:
    """A decoded MODEL payload: the update's numbers and its rows (all, or `rows` of them)."""

    update: ModelUpdate
    count: int
    rows: np.ndarray | None  # None: a snapshot
    means: np.ndarray
    rest: np.ndarray

    def applied(self, model: Packed | None) -> Packed:
        """The model after this message (a snapshot replaces it; a delta writes in place).

        Raises:
            ValueError: for a delta that does not fit `model`.
        """
        if self.rows is None:
            return Packed(self.means, self.rest)
        if model is None or model.count != self.count or model.rest.shape[1] != self.rest.shape[1]:
            raise ValueError("a delta for a model this viewer does not hold")
        model.means[self.rows] = self.means
        model.rest[self.rows] = self.rest
        return model


def decode_model(payload: bytes) -> ModelMessage:
    """Check and decode a MODEL payload.

    Raises:
        ValueError: for anything malformed (lengths, types, ranges, indices).
    """
    if len(payload) < HEAD.size:
        raise FrameError("model message shorter than its head")
    (size,) = HEAD.unpack_from(payload)
    if size > MAX_HEAD or HEAD.size + size > len(payload):
        raise FrameError("model message head of a bad length")
    head = _json_object(payload[HEAD.size : HEAD.size + size])
    serial, step = _int(head, "serial"), _int(head, "step")
    count, coefficients, rows = _int(head, "count"), _int(head, "coefficients"), _int(head, "rows")
    raw, delta = _bool(head, "raw"), _bool(head, "delta")
    sent_at = _float(head, "sent_at")
    note = _text(head, "note")
    stats = head.get("stats")
    if not isinstance(stats, dict) or len(stats) > MAX_STATS:
        raise FrameError("model message stats are no small object")
    numbers = {str(k)[:MAX_NOTE]: _float(stats, k) for k in stats}
    if coefficients not in DEGREE_FOR_SH_COEFFS or count < 1 or rows > count:
        raise FrameError("model message of bad counts")
    if not delta and rows != count:
        raise FrameError("a snapshot holds every row")
    width = FIXED + 3 * coefficients
    body = memoryview(payload)[HEAD.size + size :]
    expected = rows * (12 + 2 * width + (4 if delta else 0))
    if len(body) != expected:
        raise FrameError(f"model message of {len(body):,} bytes where {expected:,} are due")
    indices = None
    if delta:
        indices = np.frombuffer(body[: 4 * rows], ">u4").astype(np.int64)
        if rows and int(indices.max()) >= count:
            raise FrameError("delta row beyond the model")
        body = body[4 * rows :]
    means = np.frombuffer(body[: 12 * rows], np.float32).reshape(rows, 3).copy()
    rest = np.frombuffer(body[12 * rows :], np.float16).reshape(rows, width).copy()
    update = ModelUpdate(serial, step, None, raw, numbers, sent_at, note)
    return ModelMessage(update, count, indices, means, rest)


# -- the handshake and the viewer's state ---------------------------------------------------------


def encode_hello(token: str) -> bytes:
    """A HELLO payload: the protocol version and the token."""
    return json.dumps({"version": VERSION, "token": token}).encode()


def decode_hello(payload: bytes) -> tuple[int, str]:
    """(version, token) of a HELLO payload.

    Raises:
        ValueError: when it is no such object.
    """
    hello = _json_object(payload)
    token = hello.get("token")
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        raise FrameError("hello without a token string")
    return _int(hello, "version"), token


def encode_options(options: LiveOptions) -> bytes:
    """A WELCOME payload: how the window opens (title, size, cameras, controls, ...)."""
    cameras = [
        {"size": [c.width, c.height], "intrinsics": [c.fx, c.fy, c.cx, c.cy],
         "world_to_camera": np.asarray(c.world_to_camera).reshape(16).tolist(),
         "name": c.name[:MAX_NOTE]}
        for c in options.cameras[:MAX_CAMERAS]
    ]  # fmt: skip
    body = {
        "title": options.title[:MAX_NOTE], "size": [options.width, options.height],
        "background": list(options.background), "near_plane": options.near_plane,
        "up": options.up, "controls": _controls_dict(options.controls), "cameras": cameras,
    }  # fmt: skip
    text = json.dumps(body).encode()
    if len(text) > MAX_PAYLOAD[Kind.WELCOME]:  # names too long for every camera: drop them
        body["cameras"] = cameras[: MAX_CAMERAS // 10]
        text = json.dumps(body).encode()
    return text


def decode_options(payload: bytes) -> LiveOptions:
    """The LiveOptions of a WELCOME payload.

    Raises:
        ValueError: for anything malformed or out of range.
    """
    body = _json_object(payload)
    width, height = _pair(body, "size", int)
    background = body.get("background")
    if not isinstance(background, list) or len(background) != 3:
        raise FrameError("welcome background is no RGB list")
    red, green, blue = (_finite(v, "background") for v in background)
    up = body.get("up")
    if up != "auto" and up not in UP_AXES:
        raise FrameError("welcome up axis unknown")
    cameras = body.get("cameras")
    if not isinstance(cameras, list) or len(cameras) > MAX_CAMERAS:
        raise FrameError("welcome cameras are no list")
    return LiveOptions(
        _text(body, "title"), width, height, tuple(_camera(c) for c in cameras),
        (red, green, blue), _float(body, "near_plane"), up, decode_controls(body.get("controls")),
    )  # fmt: skip


def _camera(item: Any) -> Camera:
    if not isinstance(item, dict):
        raise FrameError("welcome camera is no object")
    width, height = _pair(item, "size", int)
    intrinsics = item.get("intrinsics")
    matrix = item.get("world_to_camera")
    if not isinstance(intrinsics, list) or len(intrinsics) != 4:
        raise FrameError("welcome camera intrinsics are no 4 numbers")
    if not isinstance(matrix, list) or len(matrix) != 16:
        raise FrameError("welcome camera pose is no 16 numbers")
    fx, fy, cx, cy = (_finite(v, "intrinsics") for v in intrinsics)
    pose = np.array([_finite(v, "pose") for v in matrix], np.float64).reshape(4, 4)
    return Camera(width, height, fx, fy, cx, cy, pose, _text(item, "name"))  # ValueError if bad


def encode_state(acked: int, controls: LiveControls, steps: int) -> bytes:
    """A STATE payload: the newest update drawn, the controls, the Step presses so far."""
    return json.dumps(
        {"acked": acked, "steps": steps, "controls": _controls_dict(controls)}
    ).encode()


def decode_state(payload: bytes) -> tuple[int, LiveControls, int]:
    """(acked, controls, steps) of a STATE payload.

    Raises:
        ValueError: for anything malformed or out of range.
    """
    body = _json_object(payload)
    return _int(body, "acked"), decode_controls(body.get("controls")), _int(body, "steps")


def _controls_dict(controls: LiveControls) -> dict[str, Any]:
    return {spec.name: getattr(controls, spec.name) for spec in specs(LiveControls)}


def decode_controls(value: Any) -> LiveControls:
    """LiveControls from their JSON object, every field present, typed and in range."""
    if not isinstance(value, dict):
        raise FrameError("controls are no object")
    fields: dict[str, Any] = {}
    for spec in specs(LiveControls):
        item = value.get(spec.name)
        if spec.kind is float and isinstance(item, int) and not isinstance(item, bool):
            item = float(item)
        if type(item) is not spec.kind:
            raise FrameError(f"control {spec.name} is no {spec.kind.__name__}")
        spec.check(item)
        fields[spec.name] = item
    return LiveControls(**fields)


# -- checked JSON ---------------------------------------------------------------------------------


def _json_object(data: bytes | memoryview) -> dict[str, Any]:
    try:
        value = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise FrameError("message is no JSON text") from None
    if not isinstance(value, dict):
        raise FrameError("message is no JSON object")
    return value


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if type(value) is not int or not 0 <= value < 1 << 62:
        raise FrameError(f"{name} is no count")
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if type(value) is not bool:
        raise FrameError(f"{name} is no boolean")
    return value


def _float(body: dict[str, Any], name: str) -> float:
    return _finite(body.get(name), name)


def _finite(value: Any, name: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise FrameError(f"{name} is no finite number")
    return float(value)


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or len(value) > MAX_NOTE:
        raise FrameError(f"{name} is no short text")
    return value


def _pair(body: dict[str, Any], name: str, kind: type) -> tuple[int, int]:
    value = body.get(name)
    if not isinstance(value, list) or len(value) != 2 or any(type(v) is not kind for v in value):
        raise FrameError(f"{name} is no pair")
    first, second = value
    if not (0 < first <= 1 << 16 and 0 < second <= 1 << 16):
        raise FrameError(f"{name} out of range")
    return first, second
