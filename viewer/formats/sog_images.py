"""The 8-bit images of a SOG scene: lossless WebP through Pillow, decoded with size checks.

Images hold raw 8-bit values (no colour management). Writing uses lossless WebP with `exact`
set, so that RGB under an alpha of 0 (an opacity of 0 in sh0) is kept as written. Reading takes
WebP (or PNG, which the spec allows as another lossless 8-bit format) and checks the size from
the header against what the caller allows before any pixel is decoded.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from viewer.errors import SceneError

READABLE_FORMATS = ("WEBP", "PNG")
WEBP_METHOD = 2  # encoder effort 0..6: 2 is ~3x faster than the default 4, files ~5% larger
MAX_SIDE = 16383  # the largest width or height a WebP image can have

SizeCheck = Callable[[int, int], str | None]  # (width, height) -> why wrong, or None

# Pillow raises these for files it cannot decode (SceneError, a ValueError, is ours: passed on).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def encode_webp(pixels: np.ndarray) -> bytes:
    """Lossless WebP of [H, W, 3 or 4] uint8 pixels."""
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    image = Image.fromarray(np.ascontiguousarray(pixels), mode=mode)
    out = io.BytesIO()
    image.save(out, format="WEBP", lossless=True, quality=100, method=WEBP_METHOD, exact=True)
    return out.getvalue()


def decode_image(source: Path, name: str, data: bytes, check_size: SizeCheck) -> np.ndarray:
    """[H, W, 4] uint8 RGBA pixels of an image file's bytes.

    Args:
        source: the scene file (for messages).
        name: the image's name in meta.json (for messages).
        data: the image file's bytes.
        check_size: (width, height) -> why that size is wrong for this image, or None.

    Raises:
        SceneError: for an image Pillow cannot read, of another format, or of a wrong size.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in READABLE_FORMATS:
                raise SceneError(source, f"image '{name}' is {image.format}, not WebP or PNG")
            width, height = image.size
            problem = check_size(width, height)
            if problem is not None:
                raise SceneError(source, f"image '{name}' is {width}x{height}: {problem}")
            pixels = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    except SceneError:
        raise
    except _DECODE_ERRORS as exc:
        raise SceneError(source, f"image '{name}' cannot be decoded ({exc})") from None
    if pixels.shape != (height, width, 4):
        raise SceneError(source, f"image '{name}' decoded to {pixels.shape}, not {height}x{width}")
    return pixels
