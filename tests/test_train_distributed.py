"""Data-parallel training: 2 gloo ranks through torch's launcher against one process.

The multi-process tests start real workers (`train --nproc 2`, torchrun); they are marked
`distributed` and wait on events (files, exits), never on wall-clock thresholds.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.test_train import run_cli
from viewer.settings import TrainSettings
from viewer.train.datasets import open_dataset
from viewer.train.launch import worker_arguments
from viewer.train.run import load_checkpoint
from viewer.train.trainer import Trainer

pytestmark = pytest.mark.distributed
REPO = Path(__file__).resolve().parent.parent
# 8 training views and batch 2: a pass over the images every 4 steps; densification every 2
COMMON = ("--init-count", "200", "--densify-from", "2", "--densify-every", "2",
          "--densify-grad", "0.003", "--train.sh-degree", "1", "--train.batch", "2",
          "--train.backend", "reference", "--device", "cpu")  # fmt: skip


def one_process(data: Path, steps: int) -> Trainer:
    """The same run in this process, with the whole batch."""
    settings = TrainSettings(
        iterations=8, batch=2, init_count=200, densify_from=2, densify_every=2,
        densify_grad=0.003, sh_degree=1, backend="reference", device="cpu",
    )  # fmt: skip
    trainer = Trainer(open_dataset(data), settings, torch.device("cpu"))
    for _ in range(steps):
        trainer.step()
    return trainer


def assert_same_gaussians(checkpoint: Path, trainer: Trainer) -> None:
    state = load_checkpoint(checkpoint)
    assert state["step"] == trainer.step_count
    for name, value in trainer.model.params.items():
        theirs = state["model"]["params"][name]
        assert theirs.shape == value.shape, name
        torch.testing.assert_close(theirs, value.detach(), rtol=1e-4, atol=1e-5, msg=name)


def test_two_ranks_step_as_one_process_with_the_whole_batch_and_resume_with_one(
    tmp_path, small_data
):
    out = tmp_path / "two"
    two = run_cli("train", str(small_data), "--out", str(out), "--iterations", "8",
                  "--save-every", "4", "--nproc", "2", "--check-every", "1", *COMMON)  # fmt: skip
    assert two.returncode == 0, two.stderr
    assert "in 2 processes" in two.stdout and "split" in two.stderr  # densified on the way
    reference = one_process(small_data, 4)
    assert_same_gaussians(out / "chkpnt4.pth", reference)
    for _ in range(4):
        reference.step()
    assert reference.model.count > 200  # densification steps included
    assert_same_gaussians(out / "chkpnt8.pth", reference)
    # the checkpoint holds the global state: one process continues the 2-rank run
    again = tmp_path / "one"
    one = run_cli("train", str(small_data), "--out", str(again), "--iterations", "8",
                  "--resume", str(out / "chkpnt4.pth"), *COMMON)  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert_same_gaussians(again / "chkpnt8.pth", reference)


def _two_ranks_run(script: Path) -> subprocess.CompletedProcess:
    """`script` on 2 gloo ranks through torch's launcher; their shared stdout (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(script)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def test_the_hash_check_names_a_diverged_rank(tmp_path):
    script = tmp_path / "diverge.py"
    script.write_text(
        "import torch\n"
        "from viewer.train.distributed import DivergedError, join\n"
        "ranks = join(torch.device('cpu'))\n"
        "params = {'means': torch.ones(5, 3), 'opacities': torch.zeros(5)}\n"
        "ranks.check_identical(params, 3)\n"
        "if ranks.rank == 1:\n"
        "    params['means'][2, 1] += 1e-6\n"
        "try:\n"
        "    ranks.check_identical(params, 4)\n"
        "except DivergedError as exc:\n"
        "    print(f'rank {ranks.rank}: {exc}')\n"
        "ranks.close()\n"
    )  # fmt: skip
    done = _two_ranks_run(script)
    # both ranks print to one pipe: their lines may interleave, so each is found in the whole
    said = "--check-every at step 4: the Gaussians of rank 1 differ from rank 0's"
    ranks = sorted(re.findall(rf"rank (\d): {re.escape(said)}", done.stdout))
    assert ranks == ["0", "1"], done.stdout


def test_ranks_take_rank_0s_controls_and_stop_together_when_any_asks(tmp_path):
    script = tmp_path / "agree.py"
    script.write_text(
        "import torch\n"
        "from viewer.settings import LiveControls\n"
        "from viewer.train.distributed import join\n"
        "ranks = join(torch.device('cpu'))\n"
        "mine = LiveControls(lr_scale=0.5 if ranks.rank == 0 else 3.0, sh_degree=2 - ranks.rank)\n"
        "for step in range(3):\n"
        "    agreed, stop = ranks.agree(mine, stop=ranks.rank == 1 and step == 2)\n"
        "    print(f'rank {ranks.rank} step {step}: {agreed.lr_scale} {agreed.sh_degree} {stop}')\n"
        "ranks.close()\n"
    )  # fmt: skip
    done = _two_ranks_run(script)
    for rank in (0, 1):
        for step, stop in ((0, False), (1, False), (2, True)):
            assert f"rank {rank} step {step}: 0.5 2 {stop}" in done.stdout, done.stdout


def _worker_of(parent: int, rank: int) -> int | None:
    """The pid of the child of `parent` whose RANK is `rank` (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def _signal_rank_1(out: Path, data: Path, checkpoint: int, signum: int) -> tuple[int, str]:
    """Train on 2 ranks until chkpnt`checkpoint` is written, send `signum` to rank 1 alone; the
    job's exit code and stderr."""
    job = subprocess.Popen(
        [sys.executable, "-m", "viewer", "train", str(data), "--out", str(out),
         "--iterations", "1000000", "--save-every", "3", "--nproc", "2", *COMMON],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # a safety net, not a measurement
        worker = None
        while time.monotonic() < deadline and job.poll() is None:
            worker = worker or _worker_of(job.pid, 1)
            if worker and (out / f"chkpnt{checkpoint}.pth").exists():
                break
            time.sleep(0.1)
        assert worker is not None and job.poll() is None, "rank 1 and a checkpoint"
        os.kill(worker, signum)
        _, stderr = job.communicate(timeout=300)
    finally:
        if job.poll() is None:
            job.kill()
    return job.returncode, stderr


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds workers in /proc")
def test_a_killed_rank_ends_the_job_with_one_line_and_the_checkpoint_intact(tmp_path, small_data):
    out = tmp_path / "out"
    code, stderr = _signal_rank_1(out, small_data, 6, signal.SIGKILL)
    assert code == 1, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("splatscope: error: training stopped: rank 1 was killed by SIGKILL")
    assert "Traceback" not in stderr and "[rank" not in stderr, stderr
    kept = Path(last.split("the last checkpoint is ")[1].strip("'\""))
    assert kept.parent == out and kept.name.startswith("chkpnt")
    assert load_checkpoint(kept)["step"] >= 6  # whole, and a run can continue from it
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds workers in /proc")
def test_ctrl_c_reaching_one_rank_first_stops_every_rank_and_rank_0_saves(tmp_path, small_data):
    """The launcher passes Ctrl+C to each rank at its own moment; here rank 1 alone gets it.
    Had it left at once, rank 0 would wait in the next step for a peer that is gone and save
    nothing; the ranks agree to stop before the same step instead."""
    out = tmp_path / "out"
    code, stderr = _signal_rank_1(out, small_data, 3, signal.SIGINT)
    assert code == 130, stderr
    assert "interrupted: saved step" in stderr and "Traceback" not in stderr, stderr
    saved = int(stderr.split("interrupted: saved step ")[1].split()[0])
    assert load_checkpoint(out / f"chkpnt{saved}.pth")["step"] == saved


def test_two_ranks_with_a_view_host_it_on_rank_0(tmp_path, small_data):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = subprocess.run(
        [sys.executable, "-m", "viewer", "train", str(small_data), "--out", str(tmp_path / "o"),
         "--iterations", "4", "--nproc", "2", "--view", *COMMON],
        capture_output=True, text=True, timeout=600, env={**env, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("live view: no display") == 1, done.stderr  # rank 0's only
    assert (tmp_path / "o" / "chkpnt4.pth").is_file()


def test_two_ranks_serve_the_model_from_rank_0(tmp_path, small_data):
    from viewer.remote.client import RemoteError, connect

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    job = subprocess.Popen(
        [sys.executable, "-m", "viewer", "train", str(small_data), "--out", str(tmp_path / "o"),
         "--iterations", "1000000", "--nproc", "2", "--serve", f"127.0.0.1:{port}", *COMMON],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600  # a safety net, not a measurement
        viewer = None
        while viewer is None and time.monotonic() < deadline and job.poll() is None:
            try:
                viewer = connect("127.0.0.1", port, "")
            except RemoteError:
                time.sleep(0.2)
        assert viewer is not None, "rank 0 serving"
        try:
            while not viewer.poll(1.0) or (update := viewer.recv()).tensors is None:
                assert time.monotonic() < deadline and job.poll() is None
        finally:
            viewer.close()
        assert update.step >= 1 and update.shard == 0
        assert update.tensors["means"].shape[0] >= 200  # the whole model, from rank 0
    finally:
        job.send_signal(signal.SIGINT)
        _, stderr = job.communicate(timeout=300)
    assert job.returncode == 130, stderr  # Ctrl-C: the workers stop, rank 0 saves
    assert "interrupted: saved step" in stderr and "Traceback" not in stderr, stderr


def test_cli_refusals_are_one_line(tmp_path, small_data):
    out = tmp_path / "out"
    cases = [
        (("--nproc", "0"), "--nproc"),
        (("--nproc", "2", "--train.batch", "3"), "does not divide among 2 processes"),
        (("--nproc", "2"), "--train.batch"),
    ]
    for extra, message in cases:
        args = ("train", str(small_data), "--out", str(out), "--init-count", "50")
        done = run_cli(*args, *extra)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert message in done.stderr and not out.exists()
    under_torchrun = run_cli(*args, "--nproc", "2", env={"RANK": "0", "WORLD_SIZE": "2"})
    assert under_torchrun.returncode == 2 and "leave it out under torchrun" in under_torchrun.stderr


def test_more_ranks_than_cores_is_a_warning(monkeypatch):
    from viewer.train import launch

    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    with pytest.warns(UserWarning, match="--nproc 2 ranks share the 1 cores"):
        launch.check_nproc(2, torch.device("cpu"))


def test_workers_get_the_command_line_without_nproc():
    argv = ["train", "d", "--nproc", "2", "--out", "o", "--nproc=3", "--check-every", "2"]
    assert worker_arguments(argv) == ["train", "d", "--out", "o", "--check-every", "2"]


def test_the_launcher_reads_an_interrupt_through_the_workers_it_stopped(tmp_path, capsys):
    """Rank 0 left on Ctrl+C (130) and torch's agent then stopped a worker still on its way out
    (SIGTERM): an interrupt, said by rank 0. A worker killed otherwise is a failure."""
    from types import SimpleNamespace

    from viewer.train.launch import EXIT_FAILED, _report

    def failure(code: int) -> SimpleNamespace:
        name = signal.Signals(-code).name if code < 0 else ""
        return SimpleNamespace(exitcode=code, signal_name=lambda: name)

    assert _report({0: failure(130), 1: failure(-signal.SIGTERM)}, tmp_path) == 130
    assert _report({0: failure(130)}, tmp_path) == 130
    assert capsys.readouterr().err == ""
    assert _report({0: failure(-signal.SIGTERM)}, tmp_path) == EXIT_FAILED
    assert _report({0: failure(130), 1: failure(-signal.SIGKILL)}, tmp_path) == EXIT_FAILED
    assert "rank 1 was killed by SIGKILL" in capsys.readouterr().err
