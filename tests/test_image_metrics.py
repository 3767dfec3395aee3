"""PSNR and SSIM on image pairs whose answer is known or computed independently."""

from __future__ import annotations

import math

import numpy as np
import pytest

from viewer.image_metrics import compare, compare_regions, psnr, ssim


def ssim_by_windows(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004 SSIM, window by window in float64: 11x11 Gaussian (sigma 1.5) weights."""
    r = 5
    g = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = 0.01**2, 0.03**2
    values = []
    for c in range(a.shape[2]):
        for i in range(r, a.shape[0] - r):
            for j in range(r, a.shape[1] - r):
                x = a[i - r : i + r + 1, j - r : j + r + 1, c]
                y = b[i - r : i + r + 1, j - r : j + r + 1, c]
                mx, my = (w * x).sum(), (w * y).sum()
                vx, vy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
                cov = (w * (x - mx) * (y - my)).sum()
                values.append(
                    (2 * mx * my + c1) * (2 * cov + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
                )
    return float(np.mean(values))


def test_identical_images() -> None:
    image = np.random.default_rng(0).random((20, 30, 3), dtype=np.float32)
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(("offset", "expected"), [(0.1, 20.0), (0.01, 40.0), (0.5, 6.0206)])
def test_psnr_of_a_known_mse(offset: float, expected: float) -> None:
    reference = np.full((8, 8, 3), 0.25)
    assert psnr(reference + offset, reference) == pytest.approx(expected, abs=1e-3)


def test_psnr_is_symmetric_and_counts_every_channel() -> None:
    a = np.zeros((4, 4, 3))
    b = a.copy()
    b[..., 2] = 0.3  # MSE = 0.09 / 3 = 0.03
    assert psnr(a, b) == psnr(b, a) == pytest.approx(10 * math.log10(1 / 0.03))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ssim_matches_a_window_by_window_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.random((17, 23, 3))
    b = np.clip(a + rng.normal(0.0, 0.1 * seed, a.shape), 0.0, 1.0)
    assert ssim(a, b) == pytest.approx(ssim_by_windows(a, b), abs=1e-6)
    assert ssim(a, b) == pytest.approx(ssim(b, a), abs=1e-6)


def test_ssim_sees_structure_that_psnr_does_not() -> None:
    rng = np.random.default_rng(4)
    image = rng.random((32, 32, 3)) * 0.5 + 0.25
    brighter = image + 0.05  # same structure
    noisy = image + rng.choice([-0.05, 0.05], size=image.shape)  # same MSE, new structure
    assert psnr(brighter, image) == pytest.approx(psnr(noisy, image))
    assert ssim(brighter, image) > 0.95 > ssim(noisy, image)


def test_ssim_rejects_images_smaller_than_its_window() -> None:
    with pytest.raises(ValueError, match="11x11"):
        ssim(np.zeros((10, 40, 3)), np.zeros((10, 40, 3)))


def test_compare_clips_to_the_displayed_range() -> None:
    reference = np.full((16, 16, 3), 0.5, np.float32)
    over = reference.copy()
    over[0, 0] = 1.0
    brighter = reference + np.where(over > 0.9, 1.0, 0.0)  # 1.5 where `over` is 1.0
    value, similarity = compare(brighter, over)
    assert value == math.inf and similarity == pytest.approx(1.0, abs=1e-6)


def test_region_metrics_split_the_image_by_the_mask() -> None:
    rng = np.random.default_rng(3)
    reference = rng.random((40, 50, 3), dtype=np.float32)
    image = reference.copy()
    image[:, 25:] = np.clip(image[:, 25:] + 0.1, 0.0, 1.0)  # the right half differs
    mask = np.zeros((40, 50), bool)
    mask[:, :25] = True
    regions = compare_regions(image, reference, mask)
    assert regions["fovea_psnr"] == math.inf and regions["fovea_ssim"] < 1.0  # windows reach over
    assert regions["periphery_psnr"] == pytest.approx(psnr(image[:, 25:], reference[:, 25:]))
    assert (regions["psnr"], regions["ssim"]) == pytest.approx(compare(image, reference))
    inner = compare_regions(image, reference, np.pad(mask[5:-5, :15], ((5, 5), (0, 35))))
    assert inner["fovea_ssim"] == pytest.approx(1.0, abs=1e-6)  # windows wholly in the left half
    empty = compare_regions(image, reference, np.zeros_like(mask))
    assert math.isnan(empty["fovea_psnr"]) and math.isnan(empty["fovea_ssim"])
