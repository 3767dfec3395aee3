"""The attach API: the trainer's end against a scripted window end (pause, step, rate, flow
control, shared tensors), no display, and the README's example in a real window under Xvfb."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.app_driver import REPO, XServer, missing_tools
from viewer.live import LiveOptions, LiveView
from viewer.protocol import ModelUpdate, ViewerState
from viewer.settings import LiveControls


class FakeProcess:
    def join(self, timeout=None):
        pass

    def is_alive(self):
        return False

    def terminate(self):
        pass


@pytest.fixture
def pair():
    """A LiveView whose window end is the test."""
    import torch.multiprocessing  # noqa: F401 (tensor sharing through the pipe)

    ours, theirs = multiprocessing.Pipe(duplex=True)
    view = LiveView(FakeProcess(), ours, LiveOptions(), raw=True)
    yield view, theirs
    theirs.close()


def params(n: int = 16) -> dict[str, torch.Tensor]:
    return {
        "means": torch.randn(n, 3), "scales": torch.zeros(n, 3), "quats": torch.ones(n, 4),
        "opacities": torch.zeros(n), "sh0": torch.zeros(n, 1, 3), "shN": torch.zeros(n, 3, 3),
    }  # fmt: skip


def receive(conn) -> ModelUpdate:
    assert conn.poll(10.0)
    message = conn.recv()
    assert isinstance(message, ModelUpdate)
    return message


def test_one_update_in_flight_and_tensors_shared_once(pair):
    view, window = pair
    model = params()
    assert view.update(1, loss=0.5, **model)  # the first is sent at once
    first = receive(window)
    assert first.step == 1 and first.stats == {"loss": 0.5} and first.raw
    assert all(t.is_shared() for t in model.values())  # moved into shared memory, in place
    with torch.no_grad():
        model["means"] += 1.0  # the trainer goes on using its tensor
    assert torch.equal(first.tensors["means"], model["means"])  # the window sees it in place
    assert not view.update(2, **model)  # not acknowledged yet: remembered
    assert not window.poll(0.2)
    window.send(ViewerState(acked=first.serial, controls=LiveControls(update_rate=60.0)))
    time.sleep(1.0 / 60.0)
    assert view.update(3, **model)  # the same tensors: only the step goes
    second = receive(window)
    assert second.step == 3 and second.tensors is None
    window.send(ViewerState(acked=second.serial, controls=LiveControls(update_rate=60.0)))
    time.sleep(1.0 / 60.0)
    grown = {k: torch.cat([v, v]) for k, v in model.items()}  # densified: new tensors
    assert view.update(4, **grown)
    assert receive(window).tensors["means"].shape == (32, 3)


def test_the_update_rate_limits_what_is_sent(pair):
    view, window = pair
    model = params()
    window.send(ViewerState(controls=LiveControls(update_rate=0.5)))  # one per two seconds
    time.sleep(0.1)
    sent = [view.update(step, **model) for step in range(1, 50)]
    assert sent[0] and not any(sent[1:])
    message = receive(window)
    window.send(ViewerState(acked=message.serial, controls=LiveControls(update_rate=0.5)))
    view.finish("done", wait=False)  # the newest remembered update goes now, with the note
    last = receive(window)
    assert last.step == 49 and last.note == "done"


def test_pause_and_step_from_the_window(pair):
    view, window = pair
    window.send(ViewerState(controls=LiveControls(paused=True)))
    time.sleep(0.1)
    assert view.paused
    released = []

    def press_step_then_resume():
        time.sleep(0.3)
        window.send(ViewerState(controls=LiveControls(paused=True), steps=1))
        time.sleep(0.3)
        window.send(ViewerState(controls=LiveControls(paused=False, lr_scale=0.5), steps=1))

    import threading

    thread = threading.Thread(target=press_step_then_resume)
    thread.start()
    start = time.monotonic()
    released.append(view.wait_while_paused())  # the Step press lets one step through
    released.append(time.monotonic() - start)
    assert view.wait_while_paused()  # paused again until Resume
    thread.join()
    assert not view.wait_while_paused()  # running: returns at once
    assert released[0] and released[1] >= 0.25
    assert view.controls.lr_scale == 0.5 and not view.paused


def test_a_closed_window_costs_the_loop_nothing(pair):
    view, window = pair
    window.send(ViewerState(closed=True, error="no display to open a window on"))
    time.sleep(0.1)
    assert view.closed and "no display" in view.error
    assert not view.update(1, **params())
    assert not view.wait_while_paused()


def _script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), **extra)
    return env


def test_attach_without_a_display_says_so_once_and_training_goes_on(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n"
        "from viewer import live\n"
        "if __name__ == '__main__':\n"
        "    view = live.attach()\n"
        "    p = {'means': torch.zeros(4, 3), 'scales': torch.zeros(4, 3),\n"
        "         'quats': torch.ones(4, 4), 'opacities': torch.zeros(4),\n"
        "         'sh': torch.zeros(4, 1, 3)}\n"
        "    for step in range(200):\n"
        "        view.wait_while_paused()\n"
        "        view.update(step, **p)\n"
        "        if view.closed: break\n"
        "        import time; time.sleep(0.05)\n"
        "    view.finish(wait=False)\n"
        "    print('closed', view.closed, view.error)\n"
    )  # fmt: skip
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=300, env=_script_env())  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "closed True no display" in result.stdout
    assert result.stderr.count("live view: no display") == 1, result.stderr


@pytest.mark.window
@pytest.mark.skipif(bool(missing_tools()), reason=f"needs {', '.join(missing_tools())}")
def test_the_attach_example_runs_in_a_window():
    server = XServer()
    try:
        result = subprocess.run(
            [sys.executable, str(REPO / "examples" / "live_attach.py"), "--steps", "40",
             "--gaussians", "500", "--no-wait"],
            capture_output=True, text=True, timeout=600,
            env={**_script_env(), **server.env(), "PYTHONPATH": str(REPO)},
        )  # fmt: skip
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert "via host copy (CPU tensors)" in last, result.stdout
    drawn = int(last.split("drew ")[1].split()[0])
    assert drawn >= 1


CTRL_C_SCRIPT = """
import time, torch
from viewer import live
view = live.attach("ctrl-c", width=160, height=120)
n = 50
model = {"means": torch.randn(n, 3), "scales": torch.full((n, 3), -3.0),
         "quats": torch.tensor([1.0, 0, 0, 0]).repeat(n, 1), "opacities": torch.zeros(n),
         "sh0": torch.zeros(n, 1, 3), "shN": torch.zeros(n, 0, 3)}
deadline = time.monotonic() + 240
step = 0
while view.acknowledged < 1 and time.monotonic() < deadline:
    view.update(step, **model)
    step += 1
    time.sleep(0.05)
print("drawn", view.acknowledged, flush=True)
try:
    while True:
        time.sleep(0.1)
except KeyboardInterrupt:
    view.close()
    print("closed after Ctrl+C", flush=True)
"""


@pytest.mark.window
@pytest.mark.skipif(bool(missing_tools()), reason=f"needs {', '.join(missing_tools())}")
def test_ctrl_c_in_the_terminal_ends_the_trainer_and_closes_the_window_quietly():
    """Ctrl+C reaches the trainer and its window process alike (one process group): the window
    used to print a KeyboardInterrupt traceback; the trainer owns Ctrl+C and closes it."""
    server = XServer()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", CTRL_C_SCRIPT], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
            env={**_script_env(), **server.env(), "PYTHONPATH": str(REPO)},
        )  # fmt: skip
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("drawn 1"), first + process.stderr.read()
        time.sleep(1.0)  # the window draws on
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        server.close()
    assert process.returncode == 0, err
    assert "closed after Ctrl+C" in out and "Traceback" not in err, err


def test_a_wrong_parameter_name_is_the_trainers_error(pair):
    view, _ = pair
    model = params()
    model["colours"] = model.pop("sh0")
    with pytest.raises(ValueError, match="unknown parameters"):
        view.update(1, **model)


def test_a_training_process_importing_viewer_live_loads_no_gl_or_ui():
    import subprocess
    import sys

    code = (
        "import sys, viewer.live\n"
        "loaded = {'moderngl', 'imgui_bundle', 'glfw', 'OpenGL'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
