"""The viewer's connection to a trainer's network GUI: one worker thread, never the UI's.

The UI sets the request to send (`send`: the newest wins) and takes the newest image
(`take_image`) and a `status` line each frame; nothing it calls waits on the network. The worker
connects (again after a drop, every `retry_s`), sends, and reads the reply in `poll_s` slices so
that a stalled trainer shows as waiting and `close` returns promptly. While the request asks the
trainer to train, requests follow one another (the trainer trains one step per request); else a
request is sent once, and again when it changes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from viewer.netgui.protocol import ProtocolError, ReplyDecoder, encode_request

CONNECT_TIMEOUT_S = 2.0
STALL_NOTICE_S = 1.0  # a reply later than this shows as "waiting for ..."
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteImage:
    """A received image ([H, W, 3] uint8, rows top to bottom) and what came with it."""

    image: np.ndarray
    source_path: str
    round_trip_ms: float


@dataclass(frozen=True)
class ClientStatus:
    """What the panel shows of the connection.

    Attributes:
        state: "connecting", "connected", "waiting" (a reply is late) or "error".
        text: one line for the panel.
        round_trip_ms: of the last reply (nan before the first).
        replies: replies received since the start.
        source_path: the trainer's dataset path, as it sent it.
    """

    state: str
    text: str
    round_trip_ms: float
    replies: int
    source_path: str


class NetworkGuiClient:
    """Keeps one connection to the trainer at `host:port` (see the module's documentation)."""

    def __init__(
        self,
        host: str,
        port: int,
        notify: Callable[[], None] = lambda: None,
        *,
        retry_s: float = 1.0,
        poll_s: float = 0.1,
    ) -> None:
        """Start the worker.

        Args:
            host: where the trainer listens ...
            port: ... and its port.
            notify: called from the worker when an image or a problem came (wakes the UI).
            retry_s: wait before connecting again after a failure or a drop.
            poll_s: slice of each wait on the socket (how soon `close` is noticed).
        """
        self.address = f"{host}:{port}"
        self._host, self._port = host, port
        self._notify = notify
        self._retry_s, self._poll_s = retry_s, poll_s
        self._lock = threading.Lock()
        self._new_request = threading.Event()
        self._stop = threading.Event()
        self._request: dict[str, Any] | None = None
        self._sent: dict[str, Any] | None = None  # the last request answered
        self._image: RemoteImage | None = None
        self._connected = False
        self._sent_at: float | None = None  # when the unanswered request went out
        self._problem = ""
        self._round_trip_ms = float("nan")
        self._replies = 0
        self._source_path = ""
        self._reconnect = False
        self._thread = threading.Thread(target=self._run, name="network-gui", daemon=True)
        self._thread.start()

    # -- the UI's side ------------------------------------------------------------------------

    def send(self, fields: dict[str, Any]) -> None:
        """The request to send from now on (`protocol.request_fields`)."""
        with self._lock:
            self._request = fields
        self._new_request.set()

    def take_image(self) -> RemoteImage | None:
        """The newest image not taken yet."""
        with self._lock:
            image, self._image = self._image, None
        return image

    def status(self) -> ClientStatus:
        """The connection's state now."""
        with self._lock:
            waited = 0.0 if self._sent_at is None else time.monotonic() - self._sent_at
            if self._problem:
                state, text = "error", self._problem
            elif not self._connected:
                state, text = "connecting", f"connecting to {self.address}"
            elif waited > STALL_NOTICE_S:
                state, text = "waiting", f"waiting for {self.address} ({waited:.0f} s)"
            else:
                state, text = "connected", f"connected to {self.address}"
            return ClientStatus(state, text, self._round_trip_ms, self._replies, self._source_path)

    def reconnect(self) -> None:
        """Drop the connection (a stalled trainer's) and connect again."""
        with self._lock:
            self._reconnect = True

    def close(self) -> None:
        """Stop the worker and close the connection."""
        self._stop.set()
        self._new_request.set()
        self._thread.join()

    # -- the worker -----------------------------------------------------------------------------

    def _run(self) -> None:
        sock: socket.socket | None = None
        while not self._stop.is_set():
            try:
                if sock is None:
                    sock = self._connect()
                self._exchange(sock)
            except (OSError, ProtocolError, _Dropped) as exc:
                if sock is not None:
                    sock.close()
                    sock = None
                self._set(connected=False, sent_at=None, problem=_describe(exc, self.address))
                self._stop.wait(self._retry_s)
        if sock is not None:
            sock.close()

    def _connect(self) -> socket.socket:
        try:
            sock = socket.create_connection((self._host, self._port), CONNECT_TIMEOUT_S)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise _Dropped(f"cannot connect to {self.address} ({reason}); trying again") from exc
        sock.settimeout(self._poll_s)
        with self._lock:
            self._connected, self._reconnect = True, False
            self._sent = None  # a new connection gets the current request at once
        return sock

    def _exchange(self, sock: socket.socket) -> None:
        """Send the request that is due and read its reply (returns early when none is due)."""
        fields = self._due_request()
        if fields is None:
            return
        message = encode_request(fields)
        decoder = ReplyDecoder(int(fields["resolution_x"]), int(fields["resolution_y"]))
        started = time.monotonic()
        self._set(sent_at=started)
        sock.sendall(message)
        while decoder.reply is None:
            if self._stop.is_set():
                return
            with self._lock:
                if self._reconnect:
                    raise _Dropped(f"reconnecting to {self.address}")
            try:
                chunk = sock.recv(min(decoder.missing, READ_CHUNK))
            except TimeoutError:
                continue
            if not chunk:
                raise _Dropped(_closed_during(decoder, self.address))
            decoder.feed(chunk)
        reply = decoder.reply
        round_trip_ms = (time.monotonic() - started) * 1e3
        with self._lock:
            self._sent, self._sent_at, self._problem = fields, None, ""
            self._round_trip_ms, self._source_path = round_trip_ms, reply.source_path
            self._replies += 1
            if reply.image is not None:
                self._image = RemoteImage(reply.image, reply.source_path, round_trip_ms)
        self._notify()

    def _due_request(self) -> dict[str, Any] | None:
        """The request to send now: the newest, unless answered and asking for no training.

        When none is due, waits a poll slice for a new one and returns None.
        """
        with self._lock:
            if self._reconnect:
                raise _Dropped(f"reconnecting to {self.address}")
            fields = self._request
            if fields is not None and (fields != self._sent or fields.get("train")):
                self._new_request.clear()
                return fields
        self._new_request.wait(self._poll_s)
        self._new_request.clear()
        return None

    def _set(self, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, f"_{name}", value)
        if "problem" in values:
            self._notify()


class _Dropped(Exception):
    """The connection is gone or given up (the reason in words)."""


def _closed_during(decoder: ReplyDecoder, address: str) -> str:
    if decoder.received == 0:
        return f"{address} closed the connection; reconnecting"
    if decoder.received < decoder.image_bytes:
        return (
            f"{address} closed the connection after {decoder.received:,} of the image's "
            f"{decoder.image_bytes:,} bytes (a short image); reconnecting"
        )
    return f"{address} closed the connection in the middle of a reply; reconnecting"


def _describe(exc: BaseException, address: str) -> str:
    if isinstance(exc, _Dropped):
        return str(exc)
    if isinstance(exc, ProtocolError):
        return f"{address} sent a malformed reply: {exc}; reconnecting"
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"the connection to {address} failed ({reason}); reconnecting"
