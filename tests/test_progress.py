"""Progress lines: redrawn in place on a terminal, whole lines in a file or a pipe."""

from __future__ import annotations

import io

import pytest

from viewer import progress as progress_module
from viewer.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch):
    """A fake time.monotonic that the test moves on."""
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    return now


def test_in_a_pipe_every_line_ends_and_they_are_spaced(clock):
    stream = io.StringIO()
    bar = Progress("scoring views", stream=stream, unit="views")
    for done in range(21):
        bar(done, 20)
        clock[0] += 1.0
    lines = stream.getvalue().splitlines(keepends=True)
    assert "\r" not in stream.getvalue()
    assert all(line.endswith("\n") for line in lines)
    assert len(lines) == 3  # the first, one after LOG_PERIOD seconds, the last
    assert lines[0].startswith("scoring views 0/20 views [")
    assert lines[1].startswith("scoring views 10/20 views [")
    assert lines[-1].startswith("scoring views 20/20 views [########################]")


def test_on_a_terminal_the_line_is_redrawn_and_ends_once_at_the_end(clock):
    stream = Terminal()
    bar = Progress("bench", stream=stream, unit="frames")
    for done in range(1, 5):
        bar(done, 4)
        clock[0] += 1.0
    bar(4, 4)  # reported twice: one ending only
    text = stream.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 1 and text.endswith("\n")
    assert "4/4 frames" in text and "frames/s" in text


def test_a_fraction_shows_a_percentage_and_a_note_keeps_its_own_line(clock):
    stream = io.StringIO()
    bar = Progress("building the LOD tree", stream=stream)
    bar.fraction(0.0)
    bar.note("cloned 12")
    bar.fraction(1.0)
    assert stream.getvalue().splitlines() == [
        "building the LOD tree 0 % [........................] 0.0 s",
        "cloned 12",
        "building the LOD tree 100 % [########################] 0.0 s",
    ]
