"""Watch a training loop's Gaussians as they learn, and steer the loop from the window.

    from viewer import live

    view = live.attach(title="my run", cameras=train_cameras)
    for step in range(iterations):
        view.wait_while_paused()            # holds here while the panel says Pause (Step: one)
        lr_scale = view.controls.lr_scale   # also .sh_degree, .densify, .paused
        ...                                 # the user's own step
        view.update(step, loss=loss.item(), **splats)   # means, scales, quats, opacities,
                                                        # sh0, shN (gsplat's names) or sh
    view.finish()                           # show the last step; wait for the window to close

The window runs in its own process (spawned: its own main thread for GLFW, its own GL
context), so the training loop keeps its thread and never waits for a frame. Tensors are not
copied through a pipe: CPU tensors are moved into shared memory once (`share_memory_`, in
place: the trainer keeps using them) and CUDA tensors are shared through CUDA IPC; `update`
sends them again only when they are new tensors (after densification), otherwise just the step.
At most `controls.update_rate` updates a second are sent and at most one is in flight: a call
that comes sooner or while the window still draws the last one only remembers its arguments
(the newest are sent at the next call, `wait_while_paused` or `finish`). The window reads the
parameters in place, so a frame may show some Gaussians one optimiser step later than others.

Scripts that call `attach` must guard their entry point with `if __name__ == "__main__":`
(the window process is spawned and imports the main module, as torch's DataLoader workers do).

`attach(serve="HOST:PORT")` opens no window: it serves the model on that port (viewer.remote)
for `splatscope view tcp://HOST:PORT --token T` on this or another machine. It listens on the
loopback interface unless another host is named, and then a token is required (a random one,
printed, unless `token` is given). Updates are packed and sent by a thread; `update` only puts
the newest in a one-slot mailbox, so a slow or absent viewer costs the loop nothing.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Sequence
from typing import Any

from viewer.camera import Camera
from viewer.protocol import LiveOptions, ModelUpdate, ViewerState, check_parameters
from viewer.settings import LiveControls

__all__ = ["LiveOptions", "LiveView", "attach"]

POLL_SECONDS = 0.02  # how often a paused loop looks for Resume or Step
FLUSH_SECONDS = 10.0  # how long `finish` waits for a connected viewer to take the last update


def _key(value: Any) -> tuple:
    """What identifies a tensor's memory (held referenced, so no other tensor can have it)."""
    return (
        value.data_ptr(), tuple(value.shape), tuple(value.stride()), str(value.device),
        value.dtype,
    )  # fmt: skip


class LiveView:
    """The trainer's end of a live window (see the module's documentation).

    `process` is the window's process, or None when `conn` is a network server
    (viewer.remote.server.TrainerServer: viewers come and go, the view never reports closed).
    """

    def __init__(self, process: Any, conn: Any, options: LiveOptions, raw: bool) -> None:
        self._process = process
        self._conn = conn
        self._open = True
        self.raw = raw
        self._state = ViewerState(controls=options.controls)
        self._serial = 0
        self._acked_needed = 0  # serial that must be acknowledged before the next send
        self._sent: dict[str, Any] = {}  # the tensors of the newest update sent (kept alive)
        self._pending: tuple[int, dict[str, Any], dict[str, float], str] | None = None
        self._last_send = -math.inf
        self._steps_used = 0
        self._said_closed = False
        self._last_step = 0
        self.seconds_in_update = 0.0  # time spent in `update` (the cost to the loop)

    # -- what the window says -----------------------------------------------------------------

    @property
    def controls(self) -> LiveControls:
        """The panel's training controls (paused, lr_scale, sh_degree, densify, update_rate)."""
        self._drain()
        return self._state.controls

    @property
    def paused(self) -> bool:
        """Whether the panel holds the loop (see `wait_while_paused`)."""
        return self.controls.paused

    @property
    def closed(self) -> bool:
        """Whether the window is gone (closed, or it could not open: see `error`)."""
        self._drain()
        return self._state.closed

    @property
    def error(self) -> str:
        """Why the window could not open or closed by itself, else ""."""
        self._drain()
        return self._state.error

    @property
    def upload(self) -> str:
        """How the window copies updates to the GPU ("cuda-gl interop", "host", ...)."""
        self._drain()
        return self._state.upload

    @property
    def acknowledged(self) -> int:
        """Updates the window has put on the GPU so far."""
        self._drain()
        return self._state.acked

    # -- sending --------------------------------------------------------------------------------

    def update(
        self,
        step: int = 0,
        *,
        loss: float | None = None,
        psnr: float | None = None,
        note: str = "",
        **params: Any,
    ) -> bool:
        """Offer the model after `step`; returns at once whatever the window does.

        Args:
            step: the training step shown.
            loss: shown in the window (and plotted), if given.
            psnr: shown in the window, if given.
            note: a line shown in the window.
            params: means [N, 3], scales [N, 3], quats (or rotations) [N, 4], opacities [N],
                and sh [N, K, 3] or sh0 [N, 1, 3] + shN [N, K - 1, 3]: torch tensors (CPU or
                CUDA) or numpy arrays, raw (log-scales, logits) unless attached with raw=False.

        Returns:
            Whether an update was sent now (False: remembered, rate-limited, or no window).

        Raises:
            ValueError: for unknown or missing parameters, or lengths that differ (checked when
                new tensors are sent).
        """
        start = time.perf_counter()
        try:
            stats = {k: float(v) for k, v in (("loss", loss), ("psnr", psnr)) if v is not None}
            self._pending = (step, params, stats, note)
            return self._send_pending(force=False)
        finally:
            self.seconds_in_update += time.perf_counter() - start

    def wait_while_paused(self) -> bool:
        """Hold while the panel says Pause; a Step press lets one call return.

        Returns:
            Whether it waited.
        """
        waited = False
        while True:
            self._drain()
            state = self._state
            if state.closed or not state.controls.paused:
                self._steps_used = state.steps  # Step presses while running count for nothing
                return waited
            if state.steps > self._steps_used:
                self._steps_used += 1
                return True
            self._send_pending(force=True)
            waited = True
            time.sleep(POLL_SECONDS)

    def finish(self, note: str = "training done", wait: bool = True) -> None:
        """Show the newest update with `note`; with `wait`, block until the window is closed.

        Served (no window): the newest update goes to a connected viewer (waiting at most
        FLUSH_SECONDS), then the server closes; the viewer keeps showing it.
        """
        if self._pending is not None:
            step, params, stats, old = self._pending
            self._pending = (step, params, stats, note or old)
        elif self._sent:
            self._pending = (self._last_step, {}, {}, note)
        if self._process is None:
            self._send_pending(force=True)
            self._conn.flush(FLUSH_SECONDS)
            self.close()
            return
        deadline = time.monotonic() + 30.0
        while self._pending is not None and not self.closed and time.monotonic() < deadline:
            if not self._send_pending(force=True):
                time.sleep(POLL_SECONDS)
        if wait and not self.closed:
            print("splatscope: close the window to end", file=sys.stderr, flush=True)
            while not self.closed:
                time.sleep(0.1)
        if not wait:
            self.close()

    def close(self) -> None:
        """Close the window (if open) and end its process, or stop serving."""
        if not self._open:
            return
        self._open = False
        if self._process is not None:
            with contextlib.suppress(OSError, ValueError):
                self._conn.send("close")
            self._process.join(timeout=10.0)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5.0)
        self._conn.close()
        self._state = ViewerState(
            acked=self._state.acked, controls=self._state.controls, steps=self._state.steps,
            closed=True, error=self._state.error, upload=self._state.upload,
        )  # fmt: skip

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------

    def _drain(self) -> None:
        """Read every state the window sent (non-blocking)."""
        if not self._open:
            return
        try:
            while self._conn.poll():
                message = self._conn.recv()
                if isinstance(message, ViewerState):
                    self._state = message
        except (EOFError, OSError):
            self._gone("the window's process ended")
        if self._state.closed and not self._said_closed:
            self._said_closed = True
            if self._state.error:
                print(f"splatscope: note: live view: {self._state.error}; training goes on",
                      file=sys.stderr, flush=True)  # fmt: skip

    def _gone(self, why: str) -> None:
        state = self._state
        self._state = ViewerState(
            acked=state.acked, controls=state.controls, steps=state.steps, closed=True,
            error=state.error or ("" if state.closed else why), upload=state.upload,
        )  # fmt: skip

    def _send_pending(self, force: bool) -> bool:
        """Send the remembered update if the window is ready and the rate allows."""
        if self._pending is None:
            return False
        self._drain()
        state = self._state
        if state.closed:
            self._pending = None
            return False
        if state.acked < self._acked_needed:
            return False  # the window is still drawing the last one
        now = time.monotonic()
        if not force and now - self._last_send < 1.0 / state.controls.update_rate:
            return False
        step, params, stats, note = self._pending
        tensors = self._share(params) if params else None
        self._serial += 1
        message = ModelUpdate(self._serial, step, tensors, self.raw, stats, time.time(), note)
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            self._gone("the window's process ended")
            return False
        self._pending = None
        self._acked_needed = self._serial
        self._last_send = now
        self._last_step = step
        return True

    def _share(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The tensors to send, or None when they are the ones sent last (values changed)."""
        tensors = {name: _detach(value) for name, value in params.items()}
        check_parameters(tensors)  # the trainer hears of a wrong name at once, not the window
        torch_only = all(hasattr(v, "data_ptr") for v in (*tensors.values(), *self._sent.values()))
        if self._sent and torch_only and _keys(tensors) == _keys(self._sent):
            return None  # the same memory: the window reads the new values there
        for value in tensors.values() if self._process is not None else ():
            if hasattr(value, "is_shared") and not value.is_cuda and not value.is_shared():
                value.share_memory_()  # in place: the trainer's tensor now lives in shared memory
        self._sent = tensors
        return tensors


def _keys(tensors: dict[str, Any]) -> dict[str, tuple]:
    """`_key` of each tensor (numpy arrays are sent by value every time)."""
    return {name: _key(value) for name, value in tensors.items()}


def _detach(value: Any) -> Any:
    """A tensor without autograd history (same memory), or a numpy array as it is."""
    return value.detach() if hasattr(value, "detach") else value


def attach(
    title: str = "splatscope live",
    *,
    cameras: Sequence[Camera] = (),
    background: Sequence[float] = (0.0, 0.0, 0.0),
    near_plane: float = 0.0,
    width: int = 1280,
    height: int = 720,
    up: str = "auto",
    raw: bool = True,
    controls: LiveControls | None = None,
    serve: str | None = None,
    token: str | None = None,
) -> LiveView:
    """Open a live window for a training loop; returns at once (the window opens meanwhile).

    Args:
        title: the window's title.
        cameras: training cameras (viewer.camera.Camera) to open at and fly to.
        background: RGB in [0, 1] behind the Gaussians.
        near_plane: renderer near plane (0: fitted to the model).
        width: window width in screen pixels.
        height: window height in screen pixels.
        up: world up axis ("auto", "+Z", "-Y", ...).
        raw: whether `update` gets log-scales, opacity logits and unnormalised quaternions (as
            a trainer holds them; activated in the shader) rather than activated values.
        controls: the panel's initial training controls.
        serve: "[HOST:]PORT": serve the model on the network instead of opening a window
            (HOST: 127.0.0.1 unless named; PORT 0: any free one).
        token: what a viewer must send to watch and steer; None: none on loopback, a random
            one (printed) on any other interface.

    Returns:
        The trainer's end; without a display it reports `closed` with the reason in `error`
        (and one note on stderr), and `update` costs nothing.

    Raises:
        ValueError: for a `serve` that is no address.
        OSError: when the port cannot be listened on.
    """
    import torch.multiprocessing as mp  # registers torch's tensor sharing with the pickler

    from viewer.live.window_entry import run_window

    red, green, blue = (float(c) for c in background)
    options = LiveOptions(
        title, width, height, tuple(cameras), (red, green, blue), near_plane, up,
        controls or LiveControls(),
    )  # fmt: skip
    if serve is not None:
        return LiveView(None, _serve(serve, token, options), options, raw)
    context = mp.get_context("spawn")
    ours, theirs = context.Pipe(duplex=True)
    process = context.Process(target=run_window, args=(theirs, options), daemon=True,
                              name="splatscope-live")  # fmt: skip
    process.start()
    theirs.close()
    return LiveView(process, ours, options, raw)


def _serve(address: str, token: str | None, options: LiveOptions) -> Any:
    """A TrainerServer on `address`, its URL (and token) printed for the viewer's command."""
    import secrets

    from viewer.remote.address import is_loopback, parse_address, url
    from viewer.remote.server import TrainerServer

    host, port = parse_address(address)
    if not token:  # off loopback a token is required: a random one unless given
        token = "" if is_loopback(host) else secrets.token_urlsafe(16)
    server = TrainerServer(host, port, token, options)
    where = url(host, server.address[1])
    command = f"splatscope view {where}" + (f" --token {token}" if token else "")
    print(f"splatscope: serving the live view on {where}; watch it with: {command}",
          file=sys.stderr, flush=True)  # fmt: skip
    return server
