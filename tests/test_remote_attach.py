"""The network live view end to end on loopback: an attached fake training loop serving on an
ephemeral port, a viewer receiving snapshot and deltas, controls going back only with the right
token, garbage both ways, a dropped connection, a viewer that never reads; the CLI's refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from tests.app_driver import REPO, wait_until
from viewer import live
from viewer.cli import main
from viewer.protocol import LiveOptions, ModelUpdate, ViewerState
from viewer.remote import server as server_module
from viewer.remote.client import RefusedError, RemoteTrainer, connect
from viewer.remote.codec import encode_hello, encode_options, encode_state
from viewer.remote.frames import HEADER, Kind, frame
from viewer.settings import LiveControls

TOKEN = "s3cret"
FAST = LiveControls(update_rate=60.0)


def gaussians(n: int = 300) -> dict[str, torch.Tensor]:
    return {
        "means": torch.randn(n, 3), "scales": torch.randn(n, 3) - 3, "quats": torch.randn(n, 4),
        "opacities": torch.randn(n), "sh0": torch.randn(n, 1, 3), "shN": torch.randn(n, 3, 3),
    }  # fmt: skip


@pytest.fixture
def served():
    """A LiveView serving on an ephemeral loopback port with a token, and its port."""
    view = live.attach(serve="127.0.0.1:0", token=TOKEN, controls=FAST)
    yield view, view._conn.address[1]
    view.close()


def newest(viewer: RemoteTrainer, step: int) -> ModelUpdate:
    """The first model the viewer receives at `step` or later."""
    found: list[ModelUpdate] = []

    def arrived() -> bool:
        while viewer.poll():
            message = viewer.recv()
            if message.tensors is not None and message.step >= step:
                found.append(message)
        return bool(found)

    wait_until(arrived, 30.0, f"a model at step {step}", poll=0.01)
    return found[-1]


def matches(update: ModelUpdate, model: dict[str, torch.Tensor]) -> None:
    tensors = update.tensors
    assert tensors is not None
    assert np.array_equal(tensors["means"], model["means"].numpy())
    sh = torch.cat([model["sh0"], model["shN"]], dim=1).numpy()
    for ours, theirs in (("scales", model["scales"].numpy()), ("rotations", model["quats"].numpy()),
                         ("opacities", model["opacities"].numpy()), ("sh", sh)):  # fmt: skip
        np.testing.assert_allclose(tensors[ours], theirs, rtol=2**-10, atol=2**-14)


def send_until_taken(view, viewer: RemoteTrainer, step: int, model) -> ModelUpdate:
    """Offer `step` until the rate limit lets it go; the viewer's copy of it."""
    wait_until(lambda: view.update(step, loss=1.0 / step, **model), 10.0, "an update sent",
               poll=0.01)  # fmt: skip
    return newest(viewer, step)


def test_snapshot_then_deltas_follow_the_training_and_pause_goes_back(served):
    view, port = served
    viewer = connect("127.0.0.1", port, TOKEN)
    try:
        model = gaussians()
        first = send_until_taken(view, viewer, 1, model)
        matches(first, model)
        assert first.stats == {"loss": 1.0}
        for step in range(2, 6):  # a few hundred Gaussians changing per step, in place
            with torch.no_grad():
                rows = torch.randperm(300)[:40]
                model["means"][rows] += 0.1
                model["sh0"][rows] *= 0.9
            matches(send_until_taken(view, viewer, step, model), model)
        server = view._conn
        assert server.bytes_sent < 2 * 300 * (12 + 2 * 20) + 5 * 40 * 70  # deltas: changed rows
        viewer.send(ViewerState(acked=5, controls=LiveControls(paused=True, lr_scale=0.5)))
        wait_until(lambda: view.paused, 10.0, "the pause applied")
        assert view.controls.lr_scale == 0.5
        viewer.send(ViewerState(acked=5, controls=LiveControls(paused=True), steps=1))
        wait_until(lambda: view.wait_while_paused(), 10.0, "one Step let through")
    finally:
        viewer.close()
    wait_until(lambda: not view.paused, 10.0, "the loop let go when the viewer left")


def test_a_wrong_or_missing_token_is_refused_and_nothing_is_applied(served):
    view, port = served
    for token in ("wrong", ""):
        with pytest.raises(RefusedError, match=f"refused this viewer: {token or 'missing'} token"):
            connect("127.0.0.1", port, token)
        with socket.create_connection(("127.0.0.1", port)) as raw:  # states after a bad hello
            paused = encode_state(0, LiveControls(paused=True), 5)
            raw.sendall(frame(Kind.HELLO, encode_hello(token)) + frame(Kind.STATE, paused))
            assert raw.recv(HEADER.size)[0] == Kind.REFUSED
    viewer = connect("127.0.0.1", port, TOKEN)  # the right one still gets in
    viewer.close()
    assert not view.paused and view.controls == FAST


@pytest.mark.parametrize(
    "garbage",
    [b"\x00" * 64, HEADER.pack(Kind.STATE, 1 << 30), frame(Kind.STATE, b"{not json"),
     frame(Kind.STATE, b'{"acked": 1, "steps": 1, "controls": {"paused": true}}'),
     frame(Kind.MODEL, b"x"), frame(Kind.STATE, b"{")[:3]],
)  # fmt: skip
def test_garbage_from_a_viewer_leaves_the_training_serving(served, garbage):
    view, port = served
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(frame(Kind.HELLO, encode_hello(TOKEN)))
        raw.sendall(garbage)
    with socket.create_connection(("127.0.0.1", port)) as raw:  # garbage instead of a hello
        raw.sendall(garbage)
    model = gaussians()
    viewer = connect("127.0.0.1", port, TOKEN)
    try:
        matches(send_until_taken(view, viewer, 1, model), model)
    finally:
        viewer.close()
    assert not view.paused


def fake_training(replies: list[bytes]) -> tuple[int, threading.Thread]:
    """A server on an ephemeral port that welcomes one viewer and sends it `replies`."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)
        conn.sendall(frame(Kind.WELCOME, encode_options(live.LiveOptions())))
        for reply in replies:
            conn.sendall(reply)
        conn.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], thread


@pytest.mark.parametrize(
    "garbage",
    [HEADER.pack(Kind.MODEL, 2**31), frame(Kind.MODEL, b"\x00\x00\x00\x02{}"),
     frame(Kind.WELCOME, b"again"), frame(Kind.MODEL, b"\xff" * 100), b"\x04\x00"],
)  # fmt: skip
def test_garbage_from_a_training_is_a_note_and_the_viewer_goes_on(garbage):
    port, thread = fake_training([garbage])
    viewer = connect("127.0.0.1", port, "")
    try:
        assert viewer.poll(30.0)
        message = viewer.recv()
        assert message.tensors is None and "lost" in message.note and "\n" not in message.note
    finally:
        viewer.close()
    thread.join(10.0)


def test_a_dropped_connection_is_made_again_and_costs_the_training_nothing(served):
    view, port = served
    model = gaussians()
    viewer = connect("127.0.0.1", port, TOKEN)
    try:
        send_until_taken(view, viewer, 1, model)
        viewer.send(ViewerState(acked=1, controls=FAST))
        old = view._conn._viewer
        old.shutdown(socket.SHUT_RDWR)  # the link breaks
        wait_until(lambda: view._conn._viewer not in (None, old), 30.0, "the viewer back")
        with torch.no_grad():
            model["means"] += 1.0
        matches(send_until_taken(view, viewer, 2, model), model)  # a snapshot after reconnecting
    finally:
        viewer.close()


def test_a_viewer_that_never_reads_gets_fewer_updates_not_a_queue(served):
    view, port = served
    server = view._conn
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.sendall(frame(Kind.HELLO, encode_hello(TOKEN)))
        wait_until(lambda: server._viewer is not None, 10.0, "the viewer accepted")
        model = gaussians(100_000)
        for serial in range(1, 41):  # new tensors every time: nothing is shared in place
            server.send(ModelUpdate(serial, serial, {k: v.clone() for k, v in model.items()}))
            server.flush(0.05)
        assert server._update is not None and server._update.serial == 40  # one slot, newest
        assert server.models_sent <= 3  # the rest were replaced unsent, not queued
        view.update(41, **model)  # the loop is never held


def test_packing_is_bounded_by_elapsed_time_not_the_sending_threads_cpu(monkeypatch):
    """Packing whose CPU this thread's clock does not see (torch's own threads copy) still holds
    the next model back until packing is PACK_SHARE of the time; the test's clock decides."""
    now = [0.0]
    real_pack = server_module.pack

    def pack(tensors):
        now[0] += 1.0  # a second of the clock, none of this thread's CPU
        return real_pack(tensors)

    monkeypatch.setattr(server_module, "pack", pack)
    server = server_module.TrainerServer("127.0.0.1", 0, "", LiveOptions(), clock=lambda: now[0])
    viewer = connect("127.0.0.1", server.address[1], "")
    try:
        server.send(ModelUpdate(1, 1, gaussians()))
        newest(viewer, 1)
        server.send(ModelUpdate(2, 2, None))
        server.flush(0.5)  # held back: a bound on this thread's CPU would send it at once
        assert server.models_sent == 1 and server._sent_serial == 1
        now[0] += 1.0 / server_module.PACK_SHARE  # the bound's time has passed
        server.send(ModelUpdate(3, 3, None))  # replaces 2, unsent, and wakes the sender
        assert newest(viewer, 3).serial == 3
        assert server.models_sent == 2
    finally:
        viewer.close()
        server.close()


def test_the_cli_refuses_with_one_line_and_exit_2(served, capsys):
    _, port = served
    assert main(["view", f"tcp://127.0.0.1:{port}", "--token", "nope"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith("splatscope: error:") and "wrong token" in error[-1]
    assert error[-1].count(f"127.0.0.1:{port}") == 1, error  # the address named once
    with socket.create_server(("127.0.0.1", 0)) as closed:
        free = closed.getsockname()[1]
    assert main(["view", f"tcp://127.0.0.1:{free}"]) == 2
    assert "cannot reach a training" in capsys.readouterr().err
    assert main(["view", "tcp://nowhere", "--token", "x"]) == 2
    assert "no HOST:PORT" in capsys.readouterr().err


def test_train_refuses_a_token_without_serve(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "train", str(tmp_path), "--out", str(tmp_path / "o"),
         "--token", "x"], capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--serve" in done.stderr


def test_off_loopback_a_token_is_made_and_printed(capsys):
    view = live.attach(serve="0.0.0.0:0")
    try:
        token = view._conn.token
        assert len(token) >= 16
        assert f"--token {token}" in capsys.readouterr().err
        with pytest.raises(RefusedError):
            connect("127.0.0.1", view._conn.address[1], "")
    finally:
        view.close()
