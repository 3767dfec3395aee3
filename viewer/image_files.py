"""Image files: float renders written as 8-bit PNGs or float .npy arrays, atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from viewer.atomic_write import atomic_write


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """[H, W, 3] float in [0, 1] -> uint8, rounded."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_png(image: np.ndarray, path: str | Path) -> None:
    """Write a float [H, W, 3] image as an 8-bit PNG, atomically (viewer.atomic_write).

    The file is a PNG whatever its name; readers see the old file or the new one, whole.

    Raises:
        OSError: when the file cannot be written (the old one, if any, is kept).
    """
    from PIL import Image

    picture = Image.fromarray(to_rgb8(image))
    atomic_write(path, lambda file: picture.save(file, format="PNG"))


def save_npy(image: np.ndarray, path: str | Path) -> None:
    """Write an array as a .npy file under exactly this name, atomically.

    Raises:
        OSError: when the file cannot be written (the old one, if any, is kept).
    """
    array = np.ascontiguousarray(image)
    atomic_write(path, lambda file: np.save(file, array, allow_pickle=False))
