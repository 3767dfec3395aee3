"""The network GUI client against a fake trainer (tests/netgui_server.py) on the loopback:
camera requests received, images delivered; malformed, short, garbage and stalled replies give
a clear state, nothing escapes the worker, and it reconnects."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.netgui_server import SOURCE_PATH, FakeTrainer
from viewer.camera import Camera
from viewer.netgui.client import ClientStatus, NetworkGuiClient, RemoteImage
from viewer.netgui.protocol import RemoteSwitches, request_fields

SAFETY_S = 30.0  # a safety net only: every wait below ends on a condition


def until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + SAFETY_S
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {SAFETY_S} s"
        time.sleep(0.01)


def fields(train: bool = False, width: int = 8, height: int = 6) -> dict[str, Any]:
    camera = Camera.look_at((0.0, 0.0, 4.0), (0.0, 0.0, 0.0), width=width, height=height)
    return request_fields(camera, RemoteSwitches(train=train), 0.01)


class LoggedClient(NetworkGuiClient):
    """A client that logs its status each time it notifies (a problem, or an image)."""

    def __init__(self, port: int) -> None:
        self.log: list[ClientStatus] = []
        super().__init__("127.0.0.1", port, self._logged, retry_s=0.05, poll_s=0.02)

    def _logged(self) -> None:
        self.log.append(self.status())


Connect = Callable[[FakeTrainer], LoggedClient]


@pytest.fixture
def connect() -> Iterator[Connect]:
    made: list[tuple[NetworkGuiClient, FakeTrainer]] = []

    def start(server: FakeTrainer) -> LoggedClient:
        client = LoggedClient(server.port)
        made.append((client, server))
        return client

    yield start
    for client, server in made:
        client.close()
        server.close()


def next_image(client: NetworkGuiClient) -> RemoteImage:
    images: list[RemoteImage] = []
    until(lambda: images.append(client.take_image()) or images[-1] is not None, "image")
    image = images[-1]
    assert image is not None
    return image


def test_the_camera_goes_out_and_the_image_comes_back(connect: Connect) -> None:
    server = FakeTrainer(colour=(10, 200, 30))
    client = connect(server)
    sent = fields(width=8, height=6)
    client.send(sent)
    image = next_image(client)
    assert image.image.shape == (6, 8, 3)
    assert np.all(image.image == (10, 200, 30))
    assert image.source_path == SOURCE_PATH and np.isfinite(image.round_trip_ms)
    assert server.requests[0] == sent  # every field, as the trainer reads the JSON
    status = client.status()
    assert (status.state, status.replies, status.source_path) == ("connected", 1, SOURCE_PATH)


def test_without_training_a_request_goes_once_and_again_when_it_changes(connect: Connect) -> None:
    server = FakeTrainer()
    client = connect(server)
    client.send(fields(width=8))
    next_image(client)
    client.send(fields(width=8))  # the same request: answered already
    client.send(fields(width=4))
    assert next_image(client).image.shape == (6, 4, 3)
    assert [r["resolution_x"] for r in server.requests] == [8, 4]


def test_while_training_requests_follow_one_another(connect: Connect) -> None:
    server = FakeTrainer()
    client = connect(server)
    client.send(fields(train=True))
    until(lambda: len(server.requests) >= 5, "five requests")


def state_with(client: NetworkGuiClient, words: str) -> ClientStatus:
    statuses: list[ClientStatus] = []
    until(lambda: statuses.append(client.status()) or words in statuses[-1].text, words)
    return statuses[-1]


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("bad_length", "sent a malformed reply: the source path's length reads 4,294,967,295"),
        ("short_image", "closed the connection after 72 of the image's 144 bytes (a short image)"),
    ],
)
def test_a_broken_reply_is_named_and_the_client_reconnects(
    connect: Connect, mode: str, words: str
) -> None:
    server = FakeTrainer(modes=(mode, mode, "normal"))
    client = connect(server)
    client.send(fields())
    image = next_image(client)  # the third connection answers
    assert image.image.shape == (6, 8, 3) and server.connections == 3
    assert client.status().state == "connected"
    problems = [(s.state, s.text) for s in client.log if s.state == "error"]
    assert len(problems) == 2
    assert all(text.startswith("127.0.0.1:") and words in text for _, text in problems)


def test_a_stalled_trainer_shows_as_waiting_and_reconnect_drops_it(connect: Connect) -> None:
    server = FakeTrainer(modes=("stall", "normal"))
    client = connect(server)
    client.send(fields())
    status = state_with(client, f"waiting for 127.0.0.1:{server.port} (")
    assert status.state == "waiting" and client.take_image() is None
    client.reconnect()
    assert next_image(client).image.shape == (6, 8, 3)
    assert server.connections == 2


def test_close_returns_while_the_trainer_stalls(connect: Connect) -> None:
    server = FakeTrainer(modes=("stall",))
    client = connect(server)
    client.send(fields())
    until(lambda: server.requests, "request")
    client.close()  # returns: the worker reads in slices (the fixture closes it again: no-op)


def test_nobody_listening(connect: Connect) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nobody listens there
    client = NetworkGuiClient("127.0.0.1", port, retry_s=0.05, poll_s=0.02)
    try:
        client.send(fields())
        status = state_with(client, f"cannot connect to 127.0.0.1:{port} (")
        assert status.state == "error"
    finally:
        client.close()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(garbage=st.binary(max_size=300))
def test_fuzzed_replies_leave_both_sides_running(connect: Connect, garbage: bytes) -> None:
    """Garbage, then a hang-up; the next connection answers properly."""
    server = FakeTrainer(modes=("garbage", "normal"), garbage=garbage)
    client = connect(server)
    client.send(fields(width=2, height=2))
    assert next_image(client).image.shape == (2, 2, 3)
