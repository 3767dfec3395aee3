"""The differentiable rasterizers a training run renders with: gsplat, or the torch reference.

Both take the model's raw parameters and one camera and return the image and, after the
backward pass, what the densification needs (which Gaussians were seen and their
screen-space mean gradients in NDC units).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.reference import render_reference_batched
from viewer.scene import activate_opacities, activate_scales
from viewer.settings import RenderSettings

REFERENCE_TILE = 4  # pixels; the batched reference's fastest tile side on the CPU (design log)


@dataclass
class Rendered:
    """One view rendered for training.

    Attributes:
        image: [H, W, 3] the render, background included.
        means2d: the projected centres whose gradient densification reads (retains its grad).
        ids: [P] the Gaussian of each row of `means2d`.
        seen: [P] bool, whose footprint reaches the image.
        size: (width, height).
        info: the rasterizer's own output (gsplat's info dict, for its strategy).
    """

    image: torch.Tensor
    means2d: torch.Tensor | None
    ids: torch.Tensor
    seen: torch.Tensor
    size: tuple[int, int]
    info: dict[str, Any] | None = None

    def gradients(self) -> tuple[torch.Tensor, torch.Tensor]:
        """([S] ids of the Gaussians seen, [S, 2] their mean gradients in NDC units).

        Call after the backward pass.
        """
        if self.means2d is None or self.means2d.grad is None:
            empty = self.ids[:0]
            return empty, torch.zeros(0, 2, device=self.ids.device)
        grad = self.means2d.grad[self.seen]
        scale = torch.tensor([self.size[0] / 2.0, self.size[1] / 2.0], device=grad.device)
        return self.ids[self.seen], grad * scale


class Backend(Protocol):
    """A differentiable rasterizer."""

    name: str

    def render(
        self, params: torch.nn.ParameterDict, camera: Camera, settings: RenderSettings
    ) -> Rendered:
        """Render the model's raw parameters from `camera`."""
        ...


def activated(params: torch.nn.ParameterDict) -> dict[str, torch.Tensor]:
    """The reference renderer's inputs from raw parameters (differentiable)."""
    return {
        "means": params["means"],
        "scales": activate_scales(params["scales"]),
        "rotations": torch.nn.functional.normalize(params["quats"], dim=-1),
        "opacities": activate_opacities(params["opacities"]),
        "sh": torch.cat([params["sh0"], params["shN"]], dim=1),
    }


class ReferenceBackend:
    """The torch reference renderer (viewer.reference), batched tiles; CPU or CUDA."""

    name = "reference"

    def render(
        self, params: torch.nn.ParameterDict, camera: Camera, settings: RenderSettings
    ) -> Rendered:
        """Render and keep the projected centres' gradient for densification."""
        out = render_reference_batched(
            activated(params), camera, settings, tile_size=REFERENCE_TILE
        )
        proj = out.projection
        means2d = proj.means2d
        if means2d.requires_grad:
            means2d.retain_grad()
        with torch.no_grad():
            reach = proj.extents
            centre = means2d.detach()
            seen = (
                (centre[:, 0] + reach[:, 0] > 0)
                & (centre[:, 0] - reach[:, 0] < camera.width)
                & (centre[:, 1] + reach[:, 1] > 0)
                & (centre[:, 1] - reach[:, 1] < camera.height)
            )
        return Rendered(out.image, means2d, proj.ids, seen, (camera.width, camera.height))


class GsplatBackend:
    """gsplat's CUDA rasterizer (`gsplat.rasterization`), for its DefaultStrategy as well."""

    name = "gsplat"

    def __init__(self) -> None:
        from gsplat import rasterization

        self._rasterize = rasterization

    def render(
        self, params: torch.nn.ParameterDict, camera: Camera, settings: RenderSettings
    ) -> Rendered:
        """Render one camera; gsplat's info dict goes to its strategy."""
        device = params["means"].device
        viewmat = torch.as_tensor(camera.world_to_camera, dtype=torch.float32, device=device)
        k = torch.tensor(
            [[camera.fx, 0.0, camera.cx], [0.0, camera.fy, camera.cy], [0.0, 0.0, 1.0]],
            dtype=torch.float32,
            device=device,
        )
        background = torch.tensor(settings.background, dtype=torch.float32, device=device)
        colors = torch.cat([params["sh0"], params["shN"]], dim=1)
        image, _, info = self._rasterize(
            params["means"],
            params["quats"],
            activate_scales(params["scales"]),
            activate_opacities(params["opacities"]),
            colors,
            viewmat[None],
            k[None],
            camera.width,
            camera.height,
            near_plane=settings.near_plane or 0.01,
            sh_degree=settings.sh_degree,
            packed=False,
            backgrounds=background[None],
        )
        return Rendered(image[0], None, torch.zeros(0, dtype=torch.long), torch.zeros(0), (
            camera.width, camera.height), info)  # fmt: skip


def gsplat_problem() -> str | None:
    """Why the gsplat backend cannot run here, or None when it can."""
    if not torch.cuda.is_available():
        return "gsplat needs a CUDA GPU (torch.cuda.is_available() is False)"
    try:
        import gsplat  # noqa: F401
    except ImportError as exc:
        return f"gsplat is not installed ({exc}); pip install 'splatscope[cuda]'"
    return None


def choose_backend(name: str, device: torch.device) -> Backend:
    """The backend named by TrainSettings.backend on `device` ("auto": gsplat where it runs).

    Raises:
        SceneError: for gsplat asked for where it cannot run.
    """
    if name == "reference" or (name == "auto" and (device.type != "cuda" or gsplat_problem())):
        return ReferenceBackend()
    problem = gsplat_problem()
    if problem is not None:
        raise SceneError("--train.backend gsplat", problem)
    if device.type != "cuda":
        raise SceneError("--train.backend gsplat", "gsplat runs on CUDA only; use --device cuda")
    return GsplatBackend()


def choose_device(name: str) -> torch.device:
    """The torch device named by TrainSettings.device ("auto": cuda where a GPU is).

    Raises:
        SceneError: for cuda asked for without a CUDA device.
    """
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise SceneError(
                "--device cuda", "no CUDA device here (torch.cuda.is_available() is False)"
            )
        return torch.device("cuda")
    return torch.device("cpu")
