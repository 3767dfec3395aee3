"""The viewer side: a connection to a served training that the live window polls.

`connect` says hello with the token and reads the training's `LiveOptions`, or raises
`RemoteError` with the one line to show (refused, unreachable, no splatscope training). The
`RemoteTrainer` it returns has the interface the live window uses for the pipe to a local
trainer: `poll`/`recv` give the newest model as a `ModelUpdate` (models arriving meanwhile are
merged into it: a viewer that draws slowly skips updates), `send` takes the panel's
`ViewerState`. A thread reads the connection; when it drops, the thread connects again (and
is sent a snapshot), and the window shows a note meanwhile.
"""

from __future__ import annotations

import contextlib
import socket
import threading

from viewer.protocol import LiveOptions, ModelUpdate, ViewerState
from viewer.remote.address import url
from viewer.remote.codec import (
    Packed,
    decode_model,
    decode_options,
    encode_hello,
    encode_state,
)
from viewer.remote.frames import TO_VIEWER, FrameReader, Kind, frame

CONNECT_SECONDS = 10.0
RETRY_SECONDS = 1.0  # between attempts to connect again
CHUNK = 1 << 20


class RemoteError(Exception):
    """The training could not be watched: the message is the line to show."""


class RefusedError(RemoteError):
    """The training turned this viewer away (a wrong or missing token, another version)."""


def _handshake(host: str, port: int, token: str) -> tuple[socket.socket, LiveOptions, FrameReader]:
    where = url(host, port)
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_SECONDS)
    except OSError as exc:
        raise RemoteError(f"cannot reach a training at {where} ({exc.strerror or exc})") from None
    reader = FrameReader(TO_VIEWER)
    try:
        sock.sendall(frame(Kind.HELLO, encode_hello(token)))
        messages: list[tuple[Kind, bytes]] = []
        while not messages:
            data = sock.recv(reader.wanted())
            if not data:
                raise RemoteError(f"{where} closed the connection: is it a splatscope training?")
            messages = reader.feed(data)
        (kind, payload), *rest = messages
        if kind == Kind.REFUSED:
            reason = payload.decode("utf-8", "replace").splitlines()[0] if payload else ""
            raise RefusedError(f"{where} refused this viewer: {reason or 'no reason given'}")
        if kind != Kind.WELCOME or rest:
            raise RemoteError(f"{where} did not welcome this viewer: is it a splatscope training?")
        options = decode_options(payload)
        reader.accepts = frozenset({Kind.MODEL})
    except (OSError, ValueError) as exc:
        sock.close()
        raise RemoteError(f"{where} is no splatscope training ({exc})") from None
    except RemoteError:
        sock.close()
        raise
    sock.settimeout(None)
    return sock, options, reader


def connect(host: str, port: int, token: str) -> RemoteTrainer:
    """Connect to the training served at host:port.

    Raises:
        RemoteError: one line, when it cannot be reached, refuses the token or is no training.
    """
    sock, options, reader = _handshake(host, port, token)
    return RemoteTrainer(host, port, token, sock, options, reader)


class RemoteTrainer:
    """The window's end of a served training (see the module's documentation).

    Attributes:
        options: how the training asked the window to open.
        address: the training's tcp:// address.
        models: MODEL messages received; bytes: their bytes.
    """

    def __init__(
        self, host: str, port: int, token: str, sock: socket.socket, options: LiveOptions,
        reader: FrameReader,
    ) -> None:  # fmt: skip
        self.options = options
        self.address = url(host, port)
        self._target = (host, port, token)
        self._cond = threading.Condition()
        self._sock: socket.socket | None = sock
        self._send_lock = threading.Lock()
        self._model: Packed | None = None
        self._update: ModelUpdate | None = None  # newest numbers, not taken yet
        self._note = ""  # newest connection note, not shown yet
        self._last = ModelUpdate(0, 0, None)
        self._state: bytes | None = None  # the newest STATE message (sent again on reconnect)
        self._closed = False
        self.models = 0
        self.bytes = 0
        self._thread = threading.Thread(
            target=self._run, args=(sock, reader), daemon=True, name="splatscope-remote"
        )
        self._thread.start()

    def poll(self, timeout: float = 0.0) -> bool:
        """Whether a model or a note waits (waiting up to `timeout` seconds for one)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: self._update is not None or bool(self._note), timeout
            )

    def recv(self) -> ModelUpdate:
        """The newest model (all rows, float32 arrays), or a note with the last one's numbers."""
        with self._cond:
            update, note = self._update, self._note
            self._update, self._note = None, ""
            if update is not None and self._model is not None:
                tensors = self._model.tensors()
                self._last = ModelUpdate(
                    update.serial, update.step, tensors, update.raw, update.stats,
                    update.sent_at, note or update.note,
                )  # fmt: skip
                return self._last
            last = self._last
            return ModelUpdate(last.serial, last.step, None, last.raw, last.stats, 0.0, note)

    def send(self, state: ViewerState) -> None:
        """Send the panel's controls and Step presses (kept for a reconnection)."""
        message = frame(Kind.STATE, encode_state(state.acked, state.controls, state.steps))
        with self._send_lock:
            self._state = message
            sock = self._sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.sendall(message)

    def close(self) -> None:
        """Close the connection; stop connecting again."""
        with self._cond:
            self._closed = True
            sock, self._sock = self._sock, None
            self._cond.notify_all()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    # -- the reading thread -----------------------------------------------------------------------

    def _run(self, sock: socket.socket, reader: FrameReader) -> None:
        while True:
            why = self._read(sock, reader)
            with self._cond:
                if self._closed:
                    return
                self._sock = None
                self._note = f"connection to {self.address} lost ({why}): connecting again"
                self._cond.notify_all()
            sock.close()
            while True:
                with self._cond:
                    if self._cond.wait_for(lambda: self._closed, RETRY_SECONDS):
                        return
                try:
                    sock, _, reader = _handshake(*self._target)
                    break
                except RefusedError as exc:
                    with self._cond:
                        self._note = str(exc)
                        self._cond.notify_all()
                    return
                except RemoteError:
                    continue
            with self._send_lock:
                self._sock = sock
                if self._state is not None:
                    with contextlib.suppress(OSError):
                        sock.sendall(self._state)
            with self._cond:
                self._model = None  # a snapshot comes first
                self._note = f"watching {self.address} again"
                self._cond.notify_all()

    def _read(self, sock: socket.socket, reader: FrameReader) -> str:
        """Read models until the connection ends; returns why it ended."""
        try:
            while True:
                data = sock.recv(CHUNK)
                if not data:
                    return "closed by the training"
                for _, payload in reader.feed(data):
                    message = decode_model(payload)
                    with self._cond:
                        self._model = message.applied(self._model)
                        self._update = message.update
                        self.models += 1
                        self.bytes += len(payload)
                        self._cond.notify_all()
        except (OSError, ValueError) as exc:
            return str(exc) or type(exc).__name__
