"""The bench loop: interleaved configs, warm-up, finish brackets, late stats matched to frames."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from viewer.bench.configs import parse_config
from viewer.bench.paths import PathFrame, path_frames
from viewer.bench.runner import FrameRecord, Target, run_interleaved
from viewer.camera import Camera
from viewer.render.frame_inputs import FrameInputs
from viewer.stats import FrameStats


class FakeRenderer:
    """Logs each render; returns stats `lag` frames late like GL timer queries, counting frames."""

    def __init__(self, name: str, log: list[tuple[str, str]], lag: int = 0) -> None:
        self.name = name
        self.log = log
        self.backend = "tiles"
        self.timer = SimpleNamespace(frame=-1, lag=lag)
        self._pending: list[int] = []

    def render(self, scene, inputs: FrameInputs, settings, output) -> FrameStats | None:
        assert scene == f"scene of {self.name}"
        self.timer.frame += 1
        self.log.append((self.name, inputs.camera.name))
        self._pending.append(self.timer.frame)
        if len(self._pending) <= self.timer.lag:
            return None
        frame = self._pending.pop(0)
        return FrameStats(
            frame=frame, clock="fake", pass_ms={"raster": float(frame)}, visible=frame, pairs=-frame
        )


def path(frames: int) -> list[PathFrame]:
    return path_frames([Camera(8, 8, 8.0, 8.0, 4.0, 4.0, name=f"c{i}") for i in range(frames)])


def run(lag: int = 0, warmup: int = 2, frames: int = 3):
    log: list[tuple[str, str]] = []
    targets = [
        Target(parse_config(n), FakeRenderer(n, log, lag), f"scene of {n}") for n in ("a", "b", "c")
    ]

    def before(frame: int, view: PathFrame) -> None:
        log.append(("before", view.camera.name))

    def after(index: int, record: FrameRecord) -> None:
        log.append(("after", f"{record.config}{record.frame}"))

    run_interleaved(
        targets, path(frames), warmup, lambda: log.append(("finish", "")), before, after
    )
    return log, targets


def test_frame_i_of_every_config_before_frame_i_plus_1() -> None:
    log, _ = run()
    renders = [(who, cam) for who, cam in log if who in "abc"]
    warmup = [("a", "c0"), ("b", "c0"), ("c", "c0"), ("a", "c1"), ("b", "c1"), ("c", "c1")]
    timed = [(n, f"c{i}") for i in range(3) for n in "abc"]
    assert renders == warmup + timed


def test_each_timed_frame_is_bracketed_by_finish_and_followed_by_its_hook() -> None:
    log, _ = run(warmup=0, frames=2)
    expected = []
    for i in range(2):
        expected.append(("before", f"c{i}"))
        for n in "abc":
            expected += [("finish", ""), (n, f"c{i}"), ("finish", ""), ("after", f"{n}{i}")]
    assert log == expected


@pytest.mark.parametrize("lag", [0, 2])
def test_late_stats_land_on_their_own_frames(lag: int) -> None:
    log, targets = run(lag=lag, warmup=2, frames=4)
    for target in targets:
        records = target.records
        assert [r.frame for r in records] == [0, 1, 2, 3]
        # the renderer counts warm-up frames too: timed frame i is its frame 2 + i
        assert [r.visible for r in records] == [2, 3, 4, 5]
        assert [r.pass_ms for r in records] == [{"raster": 2.0 + i} for i in range(4)]
        assert [r.drawn for r in records] == [-2, -3, -4, -5]  # tiles: drawn = pairs
        assert all(r.wall_ms >= 0.0 for r in records)
    drains = [cam for who, cam in log if who == "a"][2 + 4 :]
    assert drains == ["c3"] * lag
