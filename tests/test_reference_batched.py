"""The batched reference renderer (training's) gives the per-tile renderer's image and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from viewer.camera import Camera
from viewer.image_metrics import ssim, ssim_tensor
from viewer.reference import render_reference, render_reference_batched
from viewer.settings import RenderSettings


def _params(rng: np.random.Generator, n: int, degree: int = 2) -> dict[str, torch.Tensor]:
    k = (degree + 1) ** 2
    quats = rng.normal(size=(n, 4))
    arrays = {
        "means": rng.normal(scale=0.5, size=(n, 3)),
        "scales": np.exp(rng.normal(np.log(0.06), 0.7, size=(n, 3))),
        "rotations": quats / np.linalg.norm(quats, axis=1, keepdims=True),
        "opacities": rng.uniform(0.05, 1.0, size=n),
        "sh": rng.normal(scale=0.4, size=(n, k, 3)),
    }
    return {
        name: torch.tensor(a, dtype=torch.float64, requires_grad=True) for name, a in arrays.items()
    }


def _camera(width: int, height: int, azimuth: float) -> Camera:
    eye = (3.0 * math.cos(azimuth), 3.0 * math.sin(azimuth), 0.8)
    return Camera.look_at(eye, (0.0, 0.0, 0.0), (0, 0, 1), width, height, 45.0)


@pytest.mark.parametrize(
    ("seed", "size", "tile", "max_entries"),
    [(0, (37, 29), 4, 1 << 21), (1, (40, 40), 1, 1 << 21), (2, (33, 47), 16, 5000)],
)
def test_same_image_and_gradients_as_the_per_tile_renderer(seed, size, tile, max_entries):
    rng = np.random.default_rng(seed)
    params = _params(rng, 300)
    camera = _camera(*size, azimuth=seed)
    settings = RenderSettings(background=(0.2, 0.1, 0.3), antialias=seed == 2)
    target = torch.tensor(rng.uniform(size=(size[1], size[0], 3)))

    def run(render):
        for value in params.values():
            value.grad = None
        out = render(params, camera, settings, dtype=torch.float64)
        ((out.image - target) ** 2).sum().backward()
        return out.image.detach(), out.transmittance, {n: v.grad.clone() for n, v in params.items()}

    image, transmittance, grads = run(render_reference)
    image_b, transmittance_b, grads_b = run(
        lambda *a, **k: render_reference_batched(*a, tile_size=tile, max_entries=max_entries, **k)
    )
    assert torch.abs(image - image_b).max() <= 1e-12
    assert torch.abs(transmittance - transmittance_b).max() <= 1e-12
    for name in grads:
        assert torch.allclose(grads[name], grads_b[name], rtol=1e-9, atol=1e-12), name


def test_empty_view_is_the_background():
    params = _params(np.random.default_rng(3), 20)
    camera = Camera.look_at((0.0, 0.0, 5.0), (0.0, 0.0, 10.0), (0, 1, 0), 16, 12)  # away
    out = render_reference_batched(params, camera, RenderSettings(background=(0.5, 0.25, 1.0)))
    assert torch.equal(out.image, torch.tensor([0.5, 0.25, 1.0]).expand(12, 16, 3))


def test_ssim_tensor_is_the_metric_and_differentiable():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(size=(2, 24, 30, 3)).astype(np.float32)
    x = torch.tensor(a, requires_grad=True)
    value = ssim_tensor(x, torch.tensor(b))
    assert float(value.detach()) == pytest.approx(ssim(a, b), abs=1e-6)
    value.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
