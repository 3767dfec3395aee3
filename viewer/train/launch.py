"""`train --nproc N`: N workers on this machine through torch's elastic launcher, as torchrun.

Each worker runs the same command line without --nproc, with torch's RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT set (viewer.train.distributed). There are no restarts: a
worker that dies ends the job, which the launcher reports in one line naming the rank and the
last checkpoint.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from viewer.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, SceneError, quoted, visible
from viewer.train.distributed import PEER_LOST

if TYPE_CHECKING:
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

EXIT_FAILED = 1  # a worker died: the job stopped (its last checkpoint is named)
CHECKPOINT = re.compile(r"chkpnt(\d+)\.pth")


def check_nproc(nproc: int, device: torch.device) -> None:
    """Refuse more CUDA ranks than GPUs; warn of more CPU ranks than cores (they share them).

    Raises:
        SceneError: naming --nproc.
    """
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise SceneError(
            f"--nproc {nproc}", f"needs a GPU per rank; {torch.cuda.device_count()} here"
        )
    cores = os.cpu_count() or 1
    if device.type == "cpu" and nproc > cores:
        warnings.warn(f"--nproc {nproc} ranks share the {cores} cores here", stacklevel=2)


def worker_arguments(argv: list[str]) -> list[str]:
    """The command line without --nproc N (or --nproc=N)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            out.append(arg)
    return out


def launch(argv: list[str], nproc: int, out: Path) -> int:
    """Run `splatscope <argv>` in `nproc` workers here; the job's exit code.

    Each worker gets cores / nproc threads unless OMP_NUM_THREADS says otherwise. A signal to
    this process (Ctrl-C, SIGTERM) stops the workers and gives 128 + its number.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    for name in list(logging.root.manager.loggerDict):  # each sets its own level
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"splatscope-{uuid.uuid4().hex}",
        rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0, monitor_interval=0.1,
    )  # fmt: skip
    try:
        elastic_launch(config, sys.executable)("-m", "viewer", *worker_arguments(argv))
    except ChildFailedError as exc:
        return _report(exc.failures, out)
    except SignalException as exc:  # Ctrl-C reached the workers too: rank 0 saved and said so
        return 128 + int(exc.sigval)
    return 0


def _report(failures: dict[int, ProcessFailure], out: Path) -> int:
    """One line on the worker that ended the job, and the last checkpoint; the exit code."""
    rank, failure = min(failures.items(), key=lambda item: _blame(item[1].exitcode))
    if failure.exitcode == EXIT_BAD_INPUT:  # rank 0 has printed why
        return EXIT_BAD_INPUT
    codes = {failure.exitcode for failure in failures.values()}
    if EXIT_INTERRUPTED in codes and codes <= {EXIT_INTERRUPTED, -signal.SIGTERM}:
        # a Ctrl+C that reached the workers only: rank 0 saved and said so, and torch's agent
        # stopped any worker still on its way out when the first left
        return EXIT_INTERRUPTED
    how = (
        f"was killed by {failure.signal_name()}"
        if failure.exitcode < 0
        else f"exited with code {failure.exitcode}"
    )
    last = last_checkpoint(out)
    kept = f"the last checkpoint is {quoted(last)}" if last else "no checkpoint was written"
    print(visible(f"splatscope: error: training stopped: rank {rank} {how}; {kept}"),
          file=sys.stderr)  # fmt: skip
    return EXIT_FAILED


def _blame(exitcode: int) -> int:
    """Order of blame: killed by a signal, then failed, then one that only lost a peer."""
    return 0 if exitcode < 0 else 2 if exitcode == PEER_LOST else 1


def last_checkpoint(out: Path) -> Path | None:
    """The checkpoint of the highest step in `out`, if any."""
    found = [
        (int(match.group(1)), path)
        for path in (out.iterdir() if out.is_dir() else ())
        if (match := CHECKPOINT.fullmatch(path.name))
    ]
    return max(found)[1] if found else None
