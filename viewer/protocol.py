"""What crosses a process or machine boundary between a training loop and a viewer.

Plain data only (dataclasses of numbers, strings, settings and tensors), so a training process
imports it without the GL stack: `import viewer.live` loads neither moderngl nor imgui.

- `ModelUpdate`: trainer -> viewer, one step's parameters, or one producer's rows of them
  (`shard`, `row_offset`: several ranks of a distributed training each send theirs).
- `ViewerState`: viewer -> trainer, the panel's controls and what the window did.
- `LiveOptions`: how a live window opens.
- `check_parameters` / `canonical`: the parameter names and shapes both ends agree on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from viewer.camera import Camera
from viewer.scene import DEGREE_FOR_SH_COEFFS
from viewer.settings import LiveControls

# names a trainer may use (gsplat's and the GPU scene's) -> the GPU scene's
ALIASES = {"quats": "rotations", "rotations": "rotations", "means": "means", "scales": "scales",
           "opacities": "opacities", "sh": "sh", "sh0": "sh0", "shN": "shN"}  # fmt: skip
REQUIRED = ("means", "scales", "rotations", "opacities")


@dataclass(frozen=True)
class ModelUpdate:
    """One training step's model (or one producer's rows of it), trainer -> viewer.

    Several producers (the ranks of a distributed training) each send their own rows: the
    update of `shard` holds rows [row_offset, row_offset + n) of the model.

    Attributes:
        serial: increases with every update sent (per producer).
        step: the training step.
        tensors: parameter tensors by ALIASES name, or None: the shard's last tensors, whose
            values changed in place.
        raw: whether scales, opacities and quaternions are as a trainer holds them.
        stats: numbers to show (loss, psnr, ...), by name.
        sent_at: time.time() when sent (the viewer shows the latency).
        note: a line to show (e.g. "training done").
        shard: which producer sent it (0 for a single process).
        row_offset: the model row of the first row sent.
    """

    serial: int
    step: int
    tensors: dict[str, Any] | None
    raw: bool = True
    stats: dict[str, float] = field(default_factory=dict)
    sent_at: float = 0.0
    note: str = ""
    shard: int = 0
    row_offset: int = 0


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


@dataclass(frozen=True)
class LiveOptions:
    """How the live window opens.

    Attributes:
        title: the window's title.
        width, height: window size in screen pixels.
        cameras: training cameras (the view opens at the first; the panel flies to any).
        background: RGB behind the Gaussians (the trainer's, so the view matches its images).
        near_plane: the renderer's near plane (0: fitted to the model).
        up: world up axis of the view ("auto": from the cameras or the geometry).
        controls: the controls the panel starts with.
    """

    title: str = "splatscope live"
    width: int = 1280
    height: int = 720
    cameras: tuple[Camera, ...] = ()
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)
    near_plane: float = 0.0
    up: str = "auto"
    controls: LiveControls = field(default_factory=LiveControls)
