"""Framing: each message is a type byte, a 4-byte big-endian payload length, the payload.

Pure (no sockets): `frame` builds one message, `FrameReader` cuts a byte stream into messages
and refuses (FrameError) an unknown type or a length over that type's bound before reading it.
"""

from __future__ import annotations

import struct
from enum import IntEnum

HEADER = struct.Struct(">BI")
VERSION = 1  # of the messages' contents (checked in the handshake)


class Kind(IntEnum):
    """Message types; viewer -> trainer: HELLO, STATE; trainer -> viewer: the others."""

    HELLO = 1  # the viewer's version and token
    WELCOME = 2  # the token was right: how the window opens
    REFUSED = 3  # why the viewer was turned away (one line)
    MODEL = 4  # a snapshot or a delta of the model
    STATE = 5  # the viewer's controls, Step presses, the newest update drawn


MAX_PAYLOAD = {
    Kind.HELLO: 4096,
    Kind.WELCOME: 4 << 20,  # options and up to some thousands of cameras
    Kind.REFUSED: 1024,
    Kind.MODEL: 1 << 30,  # 1 GiB: some 8M Gaussians at SH degree 3
    Kind.STATE: 4096,
}
TO_TRAINER = frozenset({Kind.HELLO, Kind.STATE})
TO_VIEWER = frozenset({Kind.WELCOME, Kind.REFUSED, Kind.MODEL})


class FrameError(ValueError):
    """A byte stream that is no sequence of valid messages."""


def frame(kind: Kind, payload: bytes | bytearray | memoryview) -> bytes:
    """One message: header and payload.

    Raises:
        FrameError: for a payload over the type's bound.
    """
    if len(payload) > MAX_PAYLOAD[kind]:
        raise FrameError(f"{kind.name} message of {len(payload):,} bytes is over the bound")
    return HEADER.pack(kind, len(payload)) + bytes(payload)


class FrameReader:
    """Cuts a byte stream into (Kind, payload) messages of the kinds it accepts."""

    def __init__(self, accepts: frozenset[Kind]) -> None:
        self.accepts = accepts
        self._buffer = bytearray()
        self._need: tuple[Kind, int] | None = None  # the header read, its payload awaited

    def wanted(self) -> int:
        """Bytes still missing for the next message (at least 1)."""
        if self._need is None:
            return max(1, HEADER.size - len(self._buffer))
        return max(1, self._need[1] - len(self._buffer))

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[Kind, bytes]]:
        """The messages `data` completes, in order.

        Raises:
            FrameError: for an unknown or unexpected type, or a length over its bound (the
                stream cannot be read further).
        """
        self._buffer += data
        out: list[tuple[Kind, bytes]] = []
        while True:
            if self._need is None:
                if len(self._buffer) < HEADER.size:
                    return out
                code, length = HEADER.unpack_from(self._buffer)
                del self._buffer[: HEADER.size]
                if code not in {int(kind) for kind in self.accepts}:
                    raise FrameError(f"unexpected message type {code}")
                kind = Kind(code)
                if length > MAX_PAYLOAD[kind]:
                    raise FrameError(f"{kind.name} message of {length:,} bytes is over the bound")
                self._need = (kind, length)
            kind, length = self._need
            if len(self._buffer) < length:
                return out
            out.append((kind, bytes(self._buffer[:length])))
            del self._buffer[:length]
            self._need = None
