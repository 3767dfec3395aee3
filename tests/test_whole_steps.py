"""Ctrl+C during training lands between steps, so the model saved is whole."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from viewer.cli import EXIT_INTERRUPTED, main
from viewer.formats import load_scene
from viewer.temp_files import Terminated, termination_signals_interrupt
from viewer.train import strategy
from viewer.train.whole_steps import StepGuard


def _signal_self(number: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), number)


@pytest.fixture(autouse=True)
def _ctrl_c_raises():
    """Ctrl+C as a terminal gives it: a shell without job control starts background commands
    with SIGINT ignored, and then no signal here would stop the training (which densifies
    every 2 steps here: the model would grow without end)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_signal_inside_a_step_is_raised_when_the_step_ends():
    guard, done = StepGuard(), []
    with pytest.raises(KeyboardInterrupt), guard.step():
        _signal_self()
        done.append("rest of the step")
    assert done == ["rest of the step"] and not guard.torn
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_a_second_signal_cuts_the_step_short_and_marks_it_torn():
    guard, done = StepGuard(), []
    with pytest.raises(KeyboardInterrupt), guard.step():
        _signal_self()
        _signal_self()
        done.append("never")
    assert done == [] and guard.torn
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_kept_signal_waits_for_stop_and_a_rank_without_one_stops_too():
    guard, done = StepGuard(), []
    with guard.step(keep=True):
        _signal_self()
        done.append("rest of the step")
    assert done == ["rest of the step"] and guard.pending and not guard.torn
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        guard.stop()
    with pytest.raises(KeyboardInterrupt):  # another rank asked: this one stops alike
        StepGuard().stop()


def test_a_signal_while_one_is_kept_cuts_the_step_short():
    guard, done = StepGuard(), []
    with guard.step(keep=True):
        _signal_self()
    with pytest.raises(KeyboardInterrupt), guard.step(keep=True):
        _signal_self()
        done.append("never")
    assert done == [] and guard.torn


def test_sigterm_is_held_too_and_raised_as_terminated():
    guard, done = StepGuard(), []
    with termination_signals_interrupt(), pytest.raises(Terminated) as raised, guard.step():
        _signal_self(signal.SIGTERM)
        done.append("rest")
    assert raised.value.signum == signal.SIGTERM and done == ["rest"]


def test_steps_without_signals_and_off_the_main_thread_run_plainly():
    guard, seen = StepGuard(), []
    with guard.step():
        seen.append(signal.getsignal(signal.SIGINT) is not signal.default_int_handler)
    thread = threading.Thread(target=lambda: seen.append(guard.step().__enter__() is None))
    thread.start()
    thread.join()
    assert seen == [True, True] and not guard.torn


def _train_interrupted_in_densification(monkeypatch, data: Path, out: Path, signals: int) -> int:
    """`train` with `signals` Ctrl+C sent after the first densification edited one parameter of
    several (a KeyboardInterrupt there left tensors of different lengths, and the save failed with
    a traceback); its exit code."""
    edit, calls = strategy._edit, []

    def interrupted_edit(params, optimizers, values, moments, only=None):
        names = list(optimizers) if only is None else [only]
        for number, name in enumerate(names):
            if number == 1 and not calls:
                calls.append(name)
                for _ in range(signals):
                    _signal_self()
            edit(params, optimizers, values, moments, only=name)

    monkeypatch.setattr(strategy, "_edit", interrupted_edit)
    code = main([
        "train", str(data), "--out", str(out), "--iterations", "50", "--init-count", "200",
        "--densify-from", "2", "--densify-every", "2", "--densify-grad", "0.0", "--device", "cpu",
        "--train.backend", "reference", "--width", "32", "--height", "32",
    ])  # fmt: skip
    assert calls
    return code


def test_ctrl_c_in_the_middle_of_densification_saves_a_whole_model(
    small_data, tmp_path, monkeypatch
):
    """The step finishes, the model saved is whole and the command ends as on Ctrl+C."""
    out = tmp_path / "out"
    assert _train_interrupted_in_densification(monkeypatch, small_data, out, 1) == EXIT_INTERRUPTED
    saved = sorted((out / "point_cloud").iterdir())
    assert len(saved) == 1, saved
    assert 2 <= int(saved[0].name.removeprefix("iteration_")) < 50
    scene = load_scene(saved[0] / "point_cloud.ply")
    assert scene.count > 200  # the densified model, every attribute the same length


def test_a_second_ctrl_c_inside_a_step_saves_nothing_and_says_so(
    small_data, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "out"
    assert _train_interrupted_in_densification(monkeypatch, small_data, out, 2) == EXIT_INTERRUPTED
    assert not (out / "point_cloud").exists()
    error = capsys.readouterr().err
    assert "interrupted twice inside step" in error and "not saved" in error, error
    assert "Traceback" not in error
