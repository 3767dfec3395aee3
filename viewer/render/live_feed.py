"""Live models: what a training loop sends its viewer, and how the viewer puts it on the GPU.

The trainer (viewer.live) sends `ModelUpdate`s: a training step's parameter tensors, as it
holds them (raw: log-scales, opacity logits, unnormalised quaternions; or activated), CPU
tensors in shared memory or CUDA tensors through CUDA IPC, so the viewer process reads them
without copies through a pipe. An update whose tensors are the same storages as the last one
carries only the step (the values changed in place). The viewer answers with `ViewerState`s:
the panel's `LiveControls`, Step presses, and which update it has drawn (at most one update is
in flight: the trainer sends the newest when the last one is acknowledged).

`LiveFeed.apply` writes an update into a raw or activated `GpuScene` through the scene's
upload (CUDA-GL interop device to device, or the host copy) and times it. `due` holds the next
apply back until copying has taken at most UPLOAD_SHARE of the time: the host copy of a large
model (about 0.1 s per million Gaussians on a CPU) would otherwise take a core from the
training whenever the trainer offers an update; interop copies (under a millisecond) are never
held. Updates arriving meanwhile replace each other (the newest is applied).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from viewer.protocol import ModelUpdate, canonical, check_parameters
from viewer.render.gpu_scene import GpuScene
from viewer.scene import DEGREE_FOR_SH_COEFFS, activate_opacities, activate_scales

UPLOAD_SHARE = 0.05  # at most this share of the window's time goes to copying updates


class LiveFeed:
    """Applies `ModelUpdate`s to a GPU scene; keeps the newest tensors of each producer.

    Each producer (`ModelUpdate.shard`) owns the rows [row_offset, row_offset + n) of the model;
    a single training process is shard 0 at offset 0. The tensors are kept as sent and joined
    (sh0 + shN) at every `apply`, so values a trainer changed in place since are what is drawn.

    Attributes:
        parts: shard -> (row offset, its newest tensors as sent); empty before any.
        step: the newest update's training step. serial: its serial. stats: its numbers.
        upload_ms: wall time of the newest apply (the copies finished), milliseconds.
        latency_ms: from the trainer sending it to it being on the GPU, milliseconds.
        updates: updates applied so far.
    """

    def __init__(self) -> None:
        self.parts: dict[int, tuple[int, dict[str, Any]]] = {}
        self.step = 0
        self.serial = 0
        self.stats: dict[str, float] = {}
        self.note = ""
        self.raw = True
        self.upload_ms = math.nan
        self.latency_ms = math.nan
        self.updates = 0
        self.pending = False  # received and not applied yet
        self._sent_at = 0.0
        self._hold_until = -math.inf

    @property
    def count(self) -> int:
        """Rows drawn: those the shards cover from row 0 without a gap (0 before any update).

        A shard whose rows start after a gap waits, unseen, until the gap is filled.
        """
        covered = 0
        for offset, tensors in sorted(self.parts.values(), key=lambda part: part[0]):
            if offset > covered:
                break
            covered = max(covered, offset + _rows(tensors))
        return covered

    @property
    def on_device(self) -> bool:
        """Whether the newest tensors are CUDA tensors."""
        return any(bool(getattr(t["means"], "is_cuda", False)) for _, t in self.parts.values())

    def receive(self, update: ModelUpdate) -> None:
        """Take an update's tensors (or keep its shard's last ones) and numbers, without drawing.

        Raises:
            ValueError: for bad parameters, or a shard whose rows overlap another's.
        """
        if update.tensors is not None:
            check_parameters(update.tensors)
            rows = range(update.row_offset, update.row_offset + _rows(update.tensors))
            for shard, (offset, tensors) in self.parts.items():
                theirs = range(offset, offset + _rows(tensors))
                if shard != update.shard and rows.start < theirs.stop and theirs.start < rows.stop:
                    raise ValueError(f"shard {update.shard}'s rows overlap shard {shard}'s")
            self.parts[update.shard] = (update.row_offset, dict(update.tensors))
        self.step, self.serial, self.stats = update.step, update.serial, dict(update.stats)
        self.raw = update.raw
        self.note = update.note or self.note
        self._sent_at = update.sent_at
        self.pending = True

    def due(self, now: float | None = None) -> bool:
        """Whether a received update should be applied now (see UPLOAD_SHARE)."""
        now = time.perf_counter() if now is None else now
        return self.pending and now >= self._hold_until

    def _ordered(self) -> list[tuple[int, dict[str, Any]]]:
        """(row offset, canonical tensors) of the shards drawn (see `count`), by offset."""
        count = self.count
        parts = sorted(self.parts.values(), key=lambda part: part[0])
        return [(offset, canonical(t)) for offset, t in parts if offset < count]

    def apply(self, gpu_scene: GpuScene) -> bool:
        """Write every shard's newest tensors into its rows of `gpu_scene`.

        The count follows the rows covered, the SH degree the tensors'.

        Returns:
            Whether the number of Gaussians changed.
        """
        if self.count == 0:
            return False
        if gpu_scene.raw != self.raw:
            raise ValueError("the GPU scene's raw mode differs from the update's")
        start = time.perf_counter()
        parts = self._ordered()
        n = self.count
        changed = n != gpu_scene.count
        degrees = {DEGREE_FOR_SH_COEFFS[int(t["sh"].shape[1])] for _, t in parts}
        if len(degrees) > 1:
            raise ValueError(f"shards of different SH degrees {sorted(degrees)}")
        gpu_scene.set_sh_degree(degrees.pop())
        if n < gpu_scene.count:
            gpu_scene.resize(n)
        for offset, tensors in parts:
            gpu_scene.write(offset, **tensors)
        if self.on_device:
            import torch

            torch.cuda.current_stream().synchronize()  # the copies done: an honest time
        now = time.perf_counter()
        self.upload_ms = 1e3 * (now - start)
        self.pending = False
        self._hold_until = now + (now - start) * (1.0 / UPLOAD_SHARE - 1.0)
        self.latency_ms = 1e3 * (time.time() - self._sent_at) if self._sent_at else math.nan
        self.updates += 1
        if changed or self.updates == 1:
            gpu_scene.bounds = _bounds([t["means"] for _, t in parts])
        return changed

    def host_arrays(self) -> dict[str, np.ndarray]:
        """The newest tensors of every shard, by row, as float32 numpy arrays, activated."""
        assert self.count, "no rows received"
        parts = [{name: _host(value) for name, value in t.items()} for _, t in self._ordered()]
        arrays = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        if self.raw:
            arrays["scales"] = activate_scales(arrays["scales"])
            arrays["opacities"] = activate_opacities(arrays["opacities"])
        return arrays


def _rows(tensors: dict[str, Any]) -> int:
    return int(tensors["means"].shape[0])


def _host(value: Any) -> np.ndarray:
    """A tensor or array as a float32 numpy array on the host."""
    if hasattr(value, "detach"):
        value = value.detach().to("cpu").float().numpy()
    return np.asarray(value, np.float32)


def _bounds(means: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Robust (1-99 %) bounds of the shards' centres, as GaussianScene.robust_bounds."""
    from viewer.scene import robust_bounds

    lo, hi = robust_bounds(np.concatenate([_host(m) for m in means]))
    return lo.astype(np.float64), hi.astype(np.float64)
