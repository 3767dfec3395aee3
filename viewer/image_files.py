"""Image files: float renders written as 8-bit PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> uint8, rounded."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(image: np.ndarray, path: str | Path) -> None:
    """Write a float [H, W, 3] image as an 8-bit PNG."""
    from PIL import Image

    Image.fromarray(to_rgb8(image)).save(path)
