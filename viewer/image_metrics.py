"""Image quality against a reference render: PSNR and SSIM of images clipped to [0, 1].

SSIM is the standard one of Wang et al. 2004: an 11x11 Gaussian window of sigma 1.5, K1 = 0.01,
K2 = 0.03, data range 1, averaged over the pixels whose window lies inside the image and over the
RGB channels (as scikit-image's `structural_similarity(gaussian_weights=True,
use_sample_covariance=False)`). It is written here with a separable window: torchmetrics' dense
11x11 convolution took 0.3 s (float32) to 0.9 s (float64) per 320x180 frame on the 2-core machine,
this takes about 10 ms.

Region variants (foveation's fovea and periphery) take a pixel mask: PSNR over the masked
pixels, SSIM averaged over the windows whose centre pixel is masked (the windows themselves
may reach across the region's edge, as a viewer sees it).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

DATA_RANGE = 1.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two [H, W, C] images (inf when they are equal)."""
    mse = float(np.mean((image.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(DATA_RANGE**2 / mse)


def gaussian_window() -> torch.Tensor:
    """[SSIM_WINDOW] float32 normalised 1-D Gaussian of SSIM_SIGMA."""
    x = torch.arange(SSIM_WINDOW, dtype=torch.float64) - (SSIM_WINDOW - 1) / 2.0
    weights = torch.exp(-(x**2) / (2.0 * SSIM_SIGMA**2))
    return (weights / weights.sum()).float()


def _blur(maps: torch.Tensor) -> torch.Tensor:
    """[M, H, W] -> [M, H - 10, W - 10]: the Gaussian-weighted mean of each full window."""
    m = maps.shape[0]
    g = gaussian_window().to(maps)
    rows = F.conv2d(maps[None], g.view(1, 1, 1, -1).expand(m, 1, 1, -1), groups=m)
    return F.conv2d(rows, g.view(1, 1, -1, 1).expand(m, 1, -1, 1), groups=m)[0]


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean structural similarity of two [H, W, C] images, H and W >= 11 (1.0 when equal)."""
    if image.shape != reference.shape or min(image.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs two images of one shape >= 11x11, got {image.shape}")
    x, y = (torch.from_numpy(np.asarray(a, np.float32)) for a in (image, reference))
    return float(_ssim_map(x, y).double().mean())


def ssim_tensor(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """`ssim` of two [H, W, C] tensors as a 0-d tensor: differentiable, on their device.

    The training loss's D-SSIM term is 1 minus this.
    """
    return _ssim_map(image, reference).mean()


def _ssim_map(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """[C, H - 10, W - 10] SSIM index of every full window of two [H, W, C] tensors."""
    x, y = image.permute(2, 0, 1), reference.permute(2, 0, 1)
    mx, my, xx, yy, xy = _blur(torch.cat([x, y, x * x, y * y, x * y])).chunk(5)
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    var_x, var_y, cov = xx - mx * mx, yy - my * my, xy - mx * my
    index = ((2 * mx * my + c1) * (2 * cov + c2)) / (
        (mx * mx + my * my + c1) * (var_x + var_y + c2)
    )
    return index


def displayed(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] float32 image clipped to [0, 1], as the screen shows it."""
    return np.clip(image, 0.0, DATA_RANGE).astype(np.float32)


def compare(image: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(PSNR, SSIM) of two RGB renders, both clipped to the displayed range first."""
    a, b = displayed(image), displayed(reference)
    return psnr(a, b), ssim(a, b)


def _region_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    if not mask.any():
        return math.nan
    return psnr(a[mask], b[mask])


def compare_regions(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of the whole image, inside `mask` and outside it (one SSIM map for all).

    Args:
        image: [H, W, 3] render.
        reference: [H, W, 3] reference render.
        mask: [H, W] bool, the region (the fovea).

    Returns:
        {"psnr", "ssim", "fovea_psnr", "fovea_ssim", "periphery_psnr", "periphery_ssim"}: a
        region without pixels (or without a window centre) gives NaN; both clipped to the
        displayed range first.
    """
    a, b = displayed(image), displayed(reference)
    if a.shape != b.shape or min(a.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs two images of one shape >= 11x11, got {a.shape}")
    index = _ssim_map(torch.from_numpy(a), torch.from_numpy(b)).double().mean(dim=0).numpy()
    half = SSIM_WINDOW // 2
    centres = np.asarray(mask, bool)[half : half + index.shape[0], half : half + index.shape[1]]
    out = {"psnr": psnr(a, b), "ssim": float(index.mean())}
    for name, region, windows in (("fovea", mask, centres), ("periphery", ~mask, ~centres)):
        out[f"{name}_psnr"] = _region_psnr(a, b, np.asarray(region, bool))
        out[f"{name}_ssim"] = float(index[windows].mean()) if windows.any() else math.nan
    return out
