"""A fake 3DGS trainer's network GUI listener, written from the original protocol.

It listens on the loopback (ephemeral port), takes one connection at a time, reads each request
(4-byte little-endian length, UTF-8 JSON) and answers as `mode` says: "normal" (a solid colour
image of the asked size, then the length-prefixed source path), "bad_length" (a path length of
2**32 - 1), "short_image" (half the image, then it hangs up), "stall" (never answers) or
"garbage" (`garbage`'s bytes, then it hangs up). Connection i uses modes[min(i, len - 1)].
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

SOURCE_PATH = "/data/tandt/truck"


class FakeTrainer:
    """The listener in a thread; `requests` holds the JSON objects received."""

    def __init__(
        self,
        modes: tuple[str, ...] = ("normal",),
        colour: tuple[int, int, int] = (255, 128, 0),
        garbage: bytes = b"",
    ) -> None:
        self.modes, self.colour, self.garbage = modes, colour, garbage
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and close the listener."""
        self._stop.set()
        self._thread.join()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            mode = self.modes[min(self.connections, len(self.modes) - 1)]
            self.connections += 1
            with conn:
                conn.settimeout(0.1)
                self._talk(conn, mode)

    def _talk(self, conn: socket.socket, mode: str) -> None:
        while not self._stop.is_set():
            header = self._read(conn, 4)
            if header is None:
                return
            body = self._read(conn, int.from_bytes(header, "little"))
            if body is None:
                return
            request = json.loads(body.decode("utf-8"))
            self.requests.append(request)
            if mode == "stall":
                continue
            if mode == "garbage":
                conn.sendall(self.garbage)
                return
            width, height = request["resolution_x"], request["resolution_y"]
            image = bytes(self.colour) * (width * height) if width and height else b""
            if mode == "short_image":
                conn.sendall(image[: len(image) // 2])
                return
            path = SOURCE_PATH.encode("ascii")
            length = 2**32 - 1 if mode == "bad_length" else len(path)
            conn.sendall(image + length.to_bytes(4, "little") + path)

    def _read(self, conn: socket.socket, count: int) -> bytes | None:
        """`count` bytes, or None when the viewer hung up or the server stops."""
        data = b""
        while len(data) < count:
            if self._stop.is_set():
                return None
            try:
                chunk = conn.recv(count - len(data))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data
