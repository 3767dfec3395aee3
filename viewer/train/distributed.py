"""Data-parallel training over torch.distributed: the ranks, their collectives, the identity check.

Every rank holds the whole model and the same random stream, so all draw the same views for a
step; each renders its share, and the gradients, the loss and the densification statistics are
summed over the ranks before anything is decided. The Gaussians therefore stay identical on
every rank, which `Ranks.check_identical` verifies from a hash of them. A single process is a
group of one, where no collective runs.

Workers are started by torch's launcher (`splatscope train --nproc N`, `torchrun`, or a cluster
scheduler that sets torch's variables): RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from viewer.errors import SceneError
from viewer.settings import LiveControls

PEER_LOST = 3  # a worker's exit code when another rank has gone (the launcher names that one)
PAUSE_LIMIT = timedelta(days=7)  # how long ranks wait for each other (a paused live view)


class DivergedError(SceneError):
    """The ranks' Gaussians differ (a bug, or a rank's memory corrupted)."""


class PeerLostError(Exception):
    """A collective failed: another rank has gone (killed, or failed on its own)."""


@contextmanager
def _collective() -> Iterator[None]:
    """Turn a failed collective (gloo and NCCL raise RuntimeError) into PeerLostError."""
    try:
        yield
    except RuntimeError as exc:
        raise PeerLostError(str(exc)) from None


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def leader(self) -> bool:
        """Whether this rank writes the outputs and hosts the live view (rank 0)."""
        return self.rank == 0

    def share(self, views: Sequence[int]) -> list[int]:
        """This rank's contiguous slice of a step's views (the count divides by the world)."""
        per = len(views) // self.world
        return list(views[self.rank * per : (self.rank + 1) * per])

    def sum_(self, tensors: Sequence[torch.Tensor]) -> None:
        """Sum tensors in place over the ranks, in one all-reduce of them flattened."""
        if self.world == 1 or not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        with _collective():
            dist.all_reduce(flat)
        offset = 0
        for tensor in tensors:
            tensor.copy_(flat[offset : offset + tensor.numel()].view_as(tensor))
            offset += tensor.numel()

    def agree(self, controls: LiveControls, stop: bool = False) -> tuple[LiveControls, bool]:
        """Rank 0's live controls on every rank, and whether any rank asks to stop.

        Rank 0's view steers every rank alike; a rank asks to stop when it holds a Ctrl+C, and
        then every rank stops before the same step. One sum over the ranks: rank 0 adds its
        controls, the others zeros, each its stop.
        """
        if self.world == 1:
            return controls, stop
        mine = [controls.lr_scale, controls.sh_degree, float(controls.densify)]
        values = torch.tensor(
            [*(mine if self.leader else [0.0] * len(mine)), float(stop)],
            dtype=torch.float64, device=self.device,
        )  # fmt: skip
        with _collective():
            dist.all_reduce(values)
        lr_scale, degree, densify, stops = values.tolist()
        agreed = LiveControls(
            paused=False, lr_scale=lr_scale, sh_degree=int(degree), densify=bool(densify),
            update_rate=controls.update_rate,
        )  # fmt: skip
        return agreed, stops > 0

    def check_identical(self, params: Mapping[str, torch.Tensor], step: int) -> None:
        """Compare a hash of the Gaussians over the ranks.

        Raises:
            DivergedError: naming the ranks whose Gaussians differ from rank 0's.
        """
        if self.world == 1:
            return
        mine = torch.tensor([parameters_hash(params)], dtype=torch.int64, device=self.device)
        every = [torch.zeros_like(mine) for _ in range(self.world)]
        with _collective():
            dist.all_gather(every, mine)
        hashes = [int(value) for value in every]
        differ = [rank for rank, value in enumerate(hashes) if value != hashes[0]]
        if differ:
            names = ", ".join(str(rank) for rank in differ)
            raise DivergedError(
                f"--check-every at step {step}",
                f"the Gaussians of rank {names} differ from rank 0's (data-parallel ranks must "
                "stay identical)",
            )

    def wait_for_all(self) -> None:
        """Wait until every rank gets here (one whose peer is gone waits no more)."""
        if self.world == 1:
            return
        try:
            with _collective():
                dist.barrier()
        except PeerLostError:
            pass

    def close(self) -> None:
        """Leave the process group (nothing for one process)."""
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def parameters_hash(params: Mapping[str, torch.Tensor]) -> int:
    """A 63-bit hash of the parameters' names, shapes and bytes."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(params):
        value = params[name].detach().to("cpu").contiguous()
        digest.update(f"{name}{tuple(value.shape)}".encode())
        digest.update(value.numpy().tobytes())
    return int.from_bytes(digest.digest(), "little") >> 1


def launched() -> bool:
    """Whether torch's launcher (or a scheduler setting its variables) started this process."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def join(device: torch.device) -> Ranks:
    """Join the process group the launcher's variables describe: gloo on CPU, NCCL on CUDA.

    On CUDA each rank takes the GPU of its LOCAL_RANK.

    Raises:
        SceneError: for more ranks on this node than GPUs.
    """
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise SceneError(
                "--nproc", f"rank {rank} has no GPU of its own ({torch.cuda.device_count()} "
                "here; NCCL needs one per rank)",
            )  # fmt: skip
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if world > 1:
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=PAUSE_LIMIT)
    return Ranks(rank, world, local, device)
