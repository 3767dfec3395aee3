"""The trained model: Gaussian parameters as a trainer holds them, and their optimizers.

Parameters follow gsplat's names and meanings, so that gsplat's strategies and the viewer's raw
GPU scene take them as they are:
    means [N, 3], scales [N, 3] log-scales, quats [N, 4] unnormalised (w, x, y, z),
    opacities [N] logits, sh0 [N, 1, 3] DC coefficients, shN [N, K - 1, 3] the rest.
One Adam optimizer per parameter (gsplat's convention: one param group each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from viewer.camera import Camera
from viewer.scene import (
    SH_COEFFS_FOR_DEGREE,
    GaussianScene,
    activate_opacities,
    activate_scales,
)
from viewer.sh import C0

PARAMETER_NAMES = ("means", "scales", "quats", "opacities", "sh0", "shN")
INITIAL_OPACITY = 0.1
KNN_WINDOW = 16  # neighbours looked at on each side in Morton order (see initial_log_scales)


@dataclass(frozen=True)
class LearningRates:
    """Adam learning rates of the original 3DGS (means' is times the scene extent)."""

    means: float = 1.6e-4
    scales: float = 5e-3
    quats: float = 1e-3
    opacities: float = 5e-2
    sh0: float = 2.5e-3
    shN: float = 2.5e-3 / 20.0  # gsplat's parameter name


def scene_extent(cameras: list[Camera]) -> float:
    """The 3DGS scene extent: 1.1 x the largest camera distance from the cameras' mean centre."""
    centres = np.stack([camera.position for camera in cameras])
    spread = float(np.linalg.norm(centres - centres.mean(axis=0), axis=1).max())
    return 1.1 * spread if spread > 0 else 1.0


def random_points(
    cameras: list[Camera], count: int, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """`count` random points in a cube the cameras look at, with random colours.

    The cube's centre is the point nearest to every camera's optical axis (least squares); its
    half side the median camera distance to it times the narrowest tan(half field of view).
    """
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for camera in cameras:
        origin = camera.position
        forward = camera.camera_to_world[:3, 2]
        projector = np.eye(3) - np.outer(forward, forward)
        a += projector
        b += projector @ origin
    try:
        centre = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:  # all axes parallel
        centre = np.mean([c.position + c.camera_to_world[:3, 2] for c in cameras], axis=0)
    distance = float(np.median([np.linalg.norm(c.position - centre) for c in cameras]))
    half = distance * min(min(c.tan_half_fov) for c in cameras)
    unit = torch.rand(count, 3, generator=generator, dtype=torch.float64).numpy()
    xyz = (centre + (2.0 * unit - 1.0) * half).astype(np.float32)
    rgb = (torch.rand(count, 3, generator=generator) * 255).to(torch.uint8).numpy()
    return xyz, rgb


def initial_log_scales(means: torch.Tensor) -> torch.Tensor:
    """[N, 3] log-scales: log of the RMS distance to the 3 nearest neighbours, on every axis.

    As the original 3DGS (simple-knn), the neighbours are searched approximately: among the
    KNN_WINDOW points on either side in Morton (Z-curve) order, which costs O(N) memory.
    """
    n = means.shape[0]
    if n < 2:
        return torch.full((n, 3), math.log(0.01), dtype=means.dtype)
    points = means.detach().double()
    lo, hi = points.min(0).values, points.max(0).values
    cells = ((points - lo) / (hi - lo).clamp_min(1e-12) * 1023).long().clamp(0, 1023)
    code = torch.zeros(n, dtype=torch.long)
    for bit in range(10):
        for axis in range(3):
            code |= ((cells[:, axis] >> bit) & 1) << (3 * bit + axis)
    order = torch.argsort(code)
    sorted_points = points[order]
    window = min(KNN_WINDOW, n - 1)
    best = torch.full((n, 3), math.inf, dtype=torch.float64)
    for shift in range(1, window + 1):
        for direction in (shift, -shift):
            other = torch.roll(sorted_points, direction, dims=0)
            d2 = ((sorted_points - other) ** 2).sum(1)
            d2[d2 == 0] = math.inf  # the same point (or a duplicate) is no neighbour
            best = torch.sort(torch.cat([best, d2[:, None]], 1), dim=1).values[:, :3]
    finite = torch.isfinite(best)
    mean_d2 = torch.where(finite, best, 0.0).sum(1) / finite.sum(1).clamp_min(1)
    fallback = float(((hi - lo) ** 2).sum()) / max(n, 1) ** (2.0 / 3.0) + 1e-12
    mean_d2 = torch.where(finite.any(1), mean_d2, fallback).clamp_min(1e-14)
    log_scales = torch.empty(n, dtype=torch.float64)
    log_scales[order] = 0.5 * torch.log(mean_d2)
    return log_scales[:, None].expand(n, 3).to(means.dtype).contiguous()


def initial_parameters(
    xyz: np.ndarray, rgb: np.ndarray, sh_degree: int, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """The 3DGS initialisation from points: colour in the DC term, scales from neighbours.

    Args:
        xyz: [N, 3] positions.
        rgb: [N, 3] uint8 colours.
        sh_degree: the model's highest SH degree (shN holds (degree + 1)^2 - 1 coefficients).
        device: where the tensors live.
    """
    means = torch.as_tensor(np.asarray(xyz, np.float32))
    n = means.shape[0]
    colours = torch.as_tensor(np.asarray(rgb, np.float32)) / 255.0
    k = SH_COEFFS_FOR_DEGREE[sh_degree]
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1.0
    params = {
        "means": means,
        "scales": initial_log_scales(means),
        "quats": quats,
        "opacities": torch.full((n,), math.log(INITIAL_OPACITY / (1.0 - INITIAL_OPACITY))),
        "sh0": ((colours - 0.5) / C0)[:, None, :],
        "shN": torch.zeros(n, k - 1, 3),
    }
    return {name: value.to(device) for name, value in params.items()}


class GaussianModel:
    """Parameters (a ParameterDict with gsplat's names) and one Adam optimizer per parameter."""

    def __init__(
        self, tensors: dict[str, torch.Tensor], extent: float, rates: LearningRates
    ) -> None:
        self.params = torch.nn.ParameterDict(
            {name: torch.nn.Parameter(tensors[name].contiguous()) for name in PARAMETER_NAMES}
        )
        self.extent = extent
        self.rates = rates
        self.optimizers = {
            name: torch.optim.Adam(
                [{"params": [self.params[name]], "lr": self.base_lr(name), "name": name}],
                eps=1e-15,
            )
            for name in PARAMETER_NAMES
        }

    @property
    def count(self) -> int:
        """Gaussians in the model."""
        return int(self.params["means"].shape[0])

    @property
    def sh_degree(self) -> int:
        """The model's highest SH degree."""
        return {k: d for d, k in SH_COEFFS_FOR_DEGREE.items()}[self.params["shN"].shape[1] + 1]

    def base_lr(self, name: str) -> float:
        """A parameter's learning rate before decay and the live scale."""
        rate = float(getattr(self.rates, name))
        return rate * self.extent if name == "means" else rate

    def set_learning_rates(self, step: int, iterations: int, scale: float = 1.0) -> None:
        """The means' rate decays exponentially 100x over the run (as 3DGS); all times `scale`."""
        progress = min(max(step / max(iterations, 1), 0.0), 1.0)
        for name, optimizer in self.optimizers.items():
            rate = self.base_lr(name)
            if name == "means":
                rate = rate * math.exp(progress * math.log(0.01))
            for group in optimizer.param_groups:
                group["lr"] = rate * scale

    def to_scene(
        self, source: str = "<training>", cameras: tuple[Camera, ...] = ()
    ) -> GaussianScene:
        """The model as a GaussianScene (raw values kept for a bit-exact .ply)."""
        with torch.no_grad():
            p = {
                name: value.detach().to("cpu", torch.float32) for name, value in self.params.items()
            }
            log_scales, logits = p["scales"].numpy(), p["opacities"].numpy()
            return GaussianScene.from_arrays(
                p["means"].numpy(),
                activate_scales(log_scales),
                p["quats"].numpy(),
                activate_opacities(logits),
                torch.cat([p["sh0"], p["shN"]], 1).numpy(),
                source=source,
                cameras=cameras,
                log_scales=log_scales,
                opacity_logits=logits,
            )

    def state_dict(self) -> dict:
        """Parameters and optimizer states (a checkpoint's model part)."""
        return {
            "params": {name: value.detach() for name, value in self.params.items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "extent": self.extent,
        }

    @classmethod
    def from_state_dict(cls, state: dict, rates: LearningRates, device: torch.device | str):
        """A model restored from `state_dict`'s output."""
        tensors = {name: value.to(device) for name, value in state["params"].items()}
        model = cls(tensors, float(state["extent"]), rates)
        for name, optimizer in model.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        return model
