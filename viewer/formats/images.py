"""Image files opened with PIL through viewer.input_files (their headers, or their pixels)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from viewer.errors import SceneError
from viewer.input_files import open_input


@contextlib.contextmanager
def opened_image(path: Path) -> Iterator[Any]:
    """A PIL image of `path`, read through viewer.input_files (a regular file only).

    Whatever fails while the image is open (PIL raises many kinds for a damaged file: OSError,
    ValueError for an oversized text chunk, SyntaxError, struct.error...) is a SceneError naming
    the file; an image that PIL calls a decompression bomb too (its warning included).

    Raises:
        SceneError: naming the file.
    """
    from PIL import Image

    with open_input(path) as file:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(file)
            with image:
                yield image
        except SceneError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise SceneError(path, f"refused as a decompression bomb ({exc})") from None
        except Exception as exc:  # a decoder's failure is the file's problem
            raise SceneError(path, f"not a readable image ({exc or type(exc).__name__})") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image, from its header (the pixels are not decoded).

    Raises:
        SceneError: naming the file, as `opened_image`.
    """
    with opened_image(path) as image:
        return int(image.size[0]), int(image.size[1])
