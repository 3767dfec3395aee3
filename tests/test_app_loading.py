"""Background scene loading: a hung read blocks nothing, the newest request wins (no GL)."""

from __future__ import annotations

import threading

import pytest

from tests.app_driver import wait_until
from viewer.app.scene_loader import SceneLoader


class Reader:
    """Reads "hung" until released; "broken" fails; any other path gives the path back."""

    def __init__(self):
        self.release = threading.Event()
        self.finished: list[str] = []

    def __call__(self, path: str):
        if path == "hung":
            self.release.wait()
        self.finished.append(path)
        if path == "broken":
            raise ValueError("truncated file")
        return f"scene of {path}"


@pytest.fixture
def reader():
    reader = Reader()
    yield reader
    reader.release.set()  # no thread left waiting


def result_of(loader: SceneLoader):
    return wait_until(loader.poll, 30, "a load to finish", poll=0.01)


def test_a_hung_read_does_not_block_a_later_open(reader):
    """A FIFO used to leave "loading" forever: one worker thread, stuck, and every later open
    queued behind it."""
    loader = SceneLoader(reader)
    loader.request("hung")
    assert loader.busy == "hung"
    loader.request("good.ply")
    assert loader.busy == "good.ply"  # the panel shows the newest request
    result = result_of(loader)
    assert (result.path, result.scene, result.error) == ("good.ply", "scene of good.ply", "")
    assert loader.busy == "" and loader.poll() is None

    reader.release.set()  # the hung read finally returns: its scene is dropped
    wait_until(lambda: "hung" in reader.finished, 30, "the hung read to return", poll=0.01)
    for thread in threading.enumerate():
        if thread.name == "scene-loader":
            thread.join(timeout=30)
    assert loader.poll() is None and loader.busy == ""


def test_a_newer_request_supersedes_a_running_one_even_when_it_fails(reader):
    loader = SceneLoader(reader)
    loader.request("hung")
    loader.request("broken")
    result = result_of(loader)
    assert (result.path, result.scene, result.error) == ("broken", None, "truncated file")
    assert loader.busy == ""
    loader.request("next.ply")
    assert result_of(loader).scene == "scene of next.ply"


def test_shutdown_drops_what_is_running(reader):
    loader = SceneLoader(reader)
    loader.request("hung")
    loader.shutdown()
    assert loader.busy == ""
    reader.release.set()
    wait_until(lambda: "hung" in reader.finished, 30, "the hung read to return", poll=0.01)
    assert loader.poll() is None
