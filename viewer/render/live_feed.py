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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from viewer.render.gpu_scene import GpuScene
from viewer.scene import DEGREE_FOR_SH_COEFFS, activate_opacities, activate_scales
from viewer.settings import LiveControls

# names a trainer may use (gsplat's and the GPU scene's) -> the GPU scene's
ALIASES = {"quats": "rotations", "rotations": "rotations", "means": "means", "scales": "scales",
           "opacities": "opacities", "sh": "sh", "sh0": "sh0", "shN": "shN"}  # fmt: skip
REQUIRED = ("means", "scales", "rotations", "opacities")
UPLOAD_SHARE = 0.05  # at most this share of the window's time goes to copying updates


@dataclass(frozen=True)
class ModelUpdate:
    """One training step's model, trainer -> viewer.

    Attributes:
        serial: increases with every update sent.
        step: the training step.
        tensors: parameter tensors by ALIASES name, or None: the last update's tensors, whose
            values changed in place.
        raw: whether scales, opacities and quaternions are as a trainer holds them.
        stats: numbers to show (loss, psnr, ...), by name.
        sent_at: time.time() when sent (the viewer shows the latency).
        note: a line to show (e.g. "training done").
    """

    serial: int
    step: int
    tensors: dict[str, Any] | None
    raw: bool = True
    stats: dict[str, float] = field(default_factory=dict)
    sent_at: float = 0.0
    note: str = ""


@dataclass(frozen=True)
class ViewerState:
    """The viewer's side, viewer -> trainer.

    Attributes:
        acked: serial of the newest update drawn (0: none yet).
        controls: the panel's training controls.
        steps: Step presses so far (each lets a paused loop do one step).
        closed: the window is gone (closed by the user, or never opened: see `error`).
        error: why the window could not open or had to close, else "".
        upload: how updates reach the GPU ("cuda-gl interop", "host", ...).
    """

    acked: int = 0
    controls: LiveControls = field(default_factory=LiveControls)
    steps: int = 0
    closed: bool = False
    error: str = ""
    upload: str = ""


def check_parameters(tensors: dict[str, Any]) -> None:
    """Check a model update's names and shapes without copying anything.

    Raises:
        ValueError: for an unknown name, a missing parameter, lengths that differ, or an SH
            coefficient count that is no degree's.
    """
    unknown = set(tensors) - set(ALIASES)
    if unknown:
        raise ValueError(f"unknown parameters {sorted(unknown)} (known: {sorted(ALIASES)})")
    names = {ALIASES[name] for name in tensors}
    missing = [name for name in REQUIRED if name not in names]
    if "sh" not in names and "sh0" not in names:
        missing.append("sh (or sh0 and shN)")
    if missing:
        raise ValueError(f"missing parameters: {', '.join(missing)}")
    lengths = {name: value.shape[0] for name, value in tensors.items()}
    n = lengths["means"]
    if any(length != n for length in lengths.values()):
        raise ValueError(f"parameters of different lengths: {lengths}")
    coefficients = sum(tensors[name].shape[1] for name in ("sh", "sh0", "shN") if name in tensors)
    if coefficients not in DEGREE_FOR_SH_COEFFS:
        raise ValueError(f"sh holds {coefficients} coefficients, not 1, 4, 9 or 16")


def canonical(tensors: dict[str, Any]) -> dict[str, Any]:
    """Tensors by the GPU scene's names; sh0 + shN joined into sh (a copy, on their device).

    Raises:
        ValueError: as `check_parameters`.
    """
    check_parameters(tensors)
    out = {ALIASES[name]: value for name, value in tensors.items()}
    if "sh" not in out:
        sh0 = _detached(out.pop("sh0"))
        shn = out.pop("shN", None)
        out["sh"] = sh0 if shn is None or shn.shape[1] == 0 else _cat(sh0, _detached(shn))
    out.pop("sh0", None)
    out.pop("shN", None)
    out["opacities"] = out["opacities"].reshape(out["means"].shape[0])
    return out


def _detached(value: Any) -> Any:
    return value.detach() if hasattr(value, "detach") else value


def _cat(a: Any, b: Any) -> Any:
    if hasattr(a, "detach"):
        import torch

        return torch.cat([a, b], dim=1)
    return np.concatenate([a, b], axis=1)


class LiveFeed:
    """Applies `ModelUpdate`s to a GPU scene; keeps the tensors of the newest one.

    The update's tensors are kept as sent and joined (sh0 + shN) at every `apply`, so values a
    trainer changed in place since are what is drawn.

    Attributes:
        tensors: the newest update's tensors as sent, None before any.
        step: its training step. serial: its serial. stats: its numbers.
        upload_ms: wall time of the newest apply (the copies finished), milliseconds.
        latency_ms: from the trainer sending it to it being on the GPU, milliseconds.
        updates: updates applied so far.
    """

    def __init__(self) -> None:
        self.tensors: dict[str, Any] | None = None
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
        """Gaussians in the newest update (0 before any)."""
        return 0 if self.tensors is None else int(self.tensors["means"].shape[0])

    @property
    def on_device(self) -> bool:
        """Whether the newest tensors are CUDA tensors."""
        return self.tensors is not None and bool(getattr(self.tensors["means"], "is_cuda", False))

    def receive(self, update: ModelUpdate) -> None:
        """Take an update's tensors (or keep the last ones) and numbers, without drawing."""
        if update.tensors is not None:
            check_parameters(update.tensors)
            self.tensors = dict(update.tensors)
        self.step, self.serial, self.stats = update.step, update.serial, dict(update.stats)
        self.raw = update.raw
        self.note = update.note or self.note
        self._sent_at = update.sent_at
        self.pending = True

    def due(self, now: float | None = None) -> bool:
        """Whether a received update should be applied now (see UPLOAD_SHARE)."""
        now = time.perf_counter() if now is None else now
        return self.pending and now >= self._hold_until

    def apply(self, gpu_scene: GpuScene) -> bool:
        """Write the newest tensors into `gpu_scene` (count, SH degree follow them).

        Returns:
            Whether the number of Gaussians changed.
        """
        if self.tensors is None:
            return False
        tensors = canonical(self.tensors)
        if gpu_scene.raw != self.raw:
            raise ValueError("the GPU scene's raw mode differs from the update's")
        start = time.perf_counter()
        n = int(tensors["means"].shape[0])
        changed = n != gpu_scene.count
        degree = DEGREE_FOR_SH_COEFFS[int(tensors["sh"].shape[1])]
        gpu_scene.set_sh_degree(degree)
        if n < gpu_scene.count:
            gpu_scene.resize(n)
        gpu_scene.write(0, **tensors)
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
            gpu_scene.bounds = _bounds(tensors["means"])
        return changed

    def host_arrays(self) -> dict[str, np.ndarray]:
        """The newest tensors as float32 numpy arrays on the host, activated (for inspection)."""
        assert self.tensors is not None
        arrays = {}
        for name, value in canonical(self.tensors).items():
            if hasattr(value, "detach"):
                value = value.detach().to("cpu").float().numpy()
            arrays[name] = np.asarray(value, np.float32)
        if self.raw:
            arrays["scales"] = activate_scales(arrays["scales"])
            arrays["opacities"] = activate_opacities(arrays["opacities"])
        return arrays


def _bounds(means: Any) -> tuple[np.ndarray, np.ndarray]:
    """Robust (1-99 %) bounds of the centres, as GaussianScene.robust_bounds."""
    from viewer.scene import robust_bounds

    if hasattr(means, "detach"):
        means = means.detach().to("cpu").float().numpy()
    lo, hi = robust_bounds(np.asarray(means, np.float32))
    return lo.astype(np.float64), hi.astype(np.float64)
