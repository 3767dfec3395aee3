"""The training side: serves the newest model to a viewer, takes its controls back.

`TrainerServer` offers the interface `viewer.live.LiveView` uses for a window's pipe: `send`
takes a `ModelUpdate` into a one-slot mailbox (the newest replaces an unsent one, so the
training step never waits and a slow viewer gets fewer updates, never a queue); `poll`/`recv`
give the `ViewerState` made of the viewer's controls. Threads do the rest: one accepts, and per
connection one reads the viewer's states and one packs and sends models (a snapshot, then the
rows changed since the copy it sent last), as fast as the link takes them and no faster than
packing them takes PACK_SHARE of the time (packing is CPU the training would otherwise use).
That share is of elapsed time: torch's copies run on its own worker threads, whose CPU the
sending thread's clock (time.thread_time) does not see (measured with it: 2.6 updates a second
of 100k Gaussians on 2 cores, about 4 times the share). Elapsed time also counts the waits of a
busy machine: there, fewer updates go.

One viewer is served at a time: a newer one (a reconnection) replaces it. A viewer must send
the token first (compared in constant time) when there is one; a wrong one is told so in one
line and nothing it sends is used. When the viewer goes, the loop is let go on (unpaused).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hmac
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from viewer.protocol import LiveOptions, ModelUpdate, ViewerState
from viewer.remote.codec import (
    Packed,
    decode_hello,
    decode_state,
    encode_model,
    encode_options,
    pack,
)
from viewer.remote.frames import TO_TRAINER, VERSION, FrameReader, Kind, frame

HANDSHAKE_SECONDS = 5.0  # a connection must say hello within this
SEND_SECONDS = 30.0  # a viewer that takes nothing for this long is dropped
PACK_SHARE = 0.05  # at most this share of the time goes to packing models (the training's CPU)
MAX_HANDSHAKES = 8  # connections saying hello at once; more are closed at once
ACCEPT_POLL = 0.2  # how often the accepting thread looks whether the server closed


class TrainerServer:
    """The training's end of the network live view (see the module's documentation).

    Attributes:
        address: (host, port) it listens on (the port chosen when 0 was asked).
        token: what a viewer must send first, or "" (none asked: loopback only).
        models_sent: MODEL messages sent so far (to all viewers).
        bytes_sent: their bytes.
    """

    def __init__(
        self, host: str, port: int, token: str, options: LiveOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        """`clock`: seconds, for the bound on packing (a test's own clock)."""
        self.token = token
        self._clock = clock
        self._options = options
        self._welcome = frame(Kind.WELCOME, encode_options(options))
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(ACCEPT_POLL)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._cond = threading.Condition()
        self._update: ModelUpdate | None = None
        self._tensors: dict[str, Any] | None = None
        self._state = ViewerState(controls=options.controls)
        self._fresh = False
        self._sent_serial = -1  # of the newest update sent to the current viewer
        self._steps = 0
        self._viewer: socket.socket | None = None
        self._closed = False
        self._handshakes = threading.Semaphore(MAX_HANDSHAKES)
        self.models_sent = 0
        self.bytes_sent = 0
        threading.Thread(target=self._accept, daemon=True, name="splatscope-serve").start()

    # -- the pipe's interface, for LiveView ------------------------------------------------------

    def send(self, update: ModelUpdate) -> None:
        """Offer the newest update (its tensors, or None: the last ones, changed in place)."""
        with self._cond:
            if update.tensors is not None:
                self._tensors = update.tensors
            self._update = update
            self._state = dataclasses.replace(self._state, acked=update.serial)
            self._fresh = True
            self._cond.notify_all()

    def poll(self) -> bool:
        """Whether the state changed since the last `recv`."""
        return self._fresh

    def recv(self) -> ViewerState:
        """The viewer's controls and Step presses so far; `acked`: the newest update taken."""
        with self._cond:
            self._fresh = False
            return self._state

    def flush(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until a connected viewer has the newest update."""
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    self._viewer is None
                    or self._update is None
                    or self._sent_serial == self._update.serial
                ),
                timeout,
            )

    def close(self) -> None:
        """Stop serving and drop the viewer."""
        with self._cond:
            self._closed = True
            viewer, self._viewer = self._viewer, None
            self._cond.notify_all()
        self._listener.close()
        if viewer is not None:
            _shut(viewer)

    # -- threads ----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            if not self._handshakes.acquire(blocking=False):
                conn.close()
                continue
            threading.Thread(target=self._serve, args=(conn, peer), daemon=True).start()

    def _serve(self, conn: socket.socket, peer: Any) -> None:
        """Check the viewer's hello; then send it models while another thread reads it."""
        who = f"{peer[0]}:{peer[1]}"
        try:
            conn.settimeout(HANDSHAKE_SECONDS)
            refusal = self._check_hello(conn)
            if refusal:
                _note(f"refused a viewer from {who}: {refusal}")
                with contextlib.suppress(OSError):
                    conn.sendall(frame(Kind.REFUSED, refusal.encode()))
                _shut(conn)
                return
            conn.settimeout(SEND_SECONDS)
            conn.sendall(self._welcome)
        except (OSError, ValueError):
            _shut(conn)
            return
        finally:
            self._handshakes.release()
        with self._cond:
            if self._closed:
                _shut(conn)
                return
            old, self._viewer = self._viewer, conn
            self._sent_serial = -1
        if old is not None:
            _shut(old)
        _note(f"a viewer from {who} is watching")
        threading.Thread(target=self._read_states, args=(conn, who), daemon=True).start()
        why = self._send_models(conn)
        self._left(conn, f"the viewer from {who} left ({why})")

    def _check_hello(self, conn: socket.socket) -> str:
        """Why the viewer is refused ("" when it is not)."""
        reader = FrameReader(frozenset({Kind.HELLO}))
        while True:
            data = conn.recv(reader.wanted())
            if not data:
                raise ConnectionError("closed during the handshake")
            messages = reader.feed(data)
            if messages:
                break
        version, token = decode_hello(messages[0][1])
        if version != VERSION:
            return f"protocol version {version}, this training speaks {VERSION}"
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return "missing token" if not token else "wrong token"
        return ""

    def _send_models(self, conn: socket.socket) -> str:
        """Send the newest model whenever there is one; returns why it stopped."""
        last: Packed | None = None
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._viewer is not conn or self._unsent())
                if self._viewer is not conn:
                    return "replaced or closed"
                update, tensors = self._update, self._tensors
            assert update is not None and tensors is not None
            start = self._clock()
            model = pack(tensors)  # CPU time, on this and torch's threads, while the training steps
            message = frame(Kind.MODEL, encode_model(update, model, last))
            hold = start + (self._clock() - start) / PACK_SHARE
            try:
                conn.sendall(message)
            except OSError as exc:
                return str(exc) or type(exc).__name__
            last = model
            with self._cond:
                self.models_sent += 1
                self.bytes_sent += len(message)
                if self._viewer is conn:
                    self._sent_serial = update.serial
                self._cond.notify_all()
                self._cond.wait_for(
                    functools.partial(self._hold_over, conn, hold), hold - self._clock()
                )

    def _hold_over(self, conn: socket.socket, until: float) -> bool:
        """Whether the wait after a model ends: `conn` left, or the clock reached `until`."""
        return self._viewer is not conn or self._clock() >= until

    def _unsent(self) -> bool:
        """Whether the current viewer lacks the newest update (call holding the lock)."""
        return self._update is not None and self._update.serial != self._sent_serial

    def _read_states(self, conn: socket.socket, who: str) -> None:
        """Take the viewer's states; anything malformed ends the connection."""
        reader = FrameReader(TO_TRAINER - {Kind.HELLO})
        base: int | None = None  # the viewer's Step count when it connected
        why = "it closed the connection"
        try:
            while True:
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                for _, payload in reader.feed(data):
                    _, controls, steps = decode_state(payload)
                    base = steps if base is None else base
                    with self._cond:
                        if self._viewer is not conn:
                            return
                        self._steps += max(0, steps - base)
                        base = max(base, steps)
                        self._state = dataclasses.replace(
                            self._state, controls=controls, steps=self._steps
                        )
                        self._fresh = True
        except (OSError, ValueError) as exc:
            why = f"dropped: {exc}"
        self._left(conn, f"the viewer from {who} left ({why})")

    def _left(self, conn: socket.socket, why: str) -> None:
        """Forget `conn` (once); the loop goes on unpaused."""
        with self._cond:
            current = self._viewer is conn
            if current:
                self._viewer = None
                controls = dataclasses.replace(self._state.controls, paused=False)
                self._state = dataclasses.replace(self._state, controls=controls)
                self._fresh = True
                self._cond.notify_all()
        _shut(conn)
        if current and why:
            _note(why)


def _shut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def _note(line: str) -> None:
    print(f"splatscope: note: live view: {line}", file=sys.stderr, flush=True)
