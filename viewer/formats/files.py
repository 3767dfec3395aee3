"""File access for the scene readers and writers: every OS failure becomes a SceneError.

Readers open files through viewer.input_files (regular files only, remembered as inputs);
writers replace their target atomically (viewer.atomic_write), never an input.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from viewer.atomic_write import atomic_write
from viewer.errors import SceneError


def map_records(path: Path, dtype: np.dtype, offset: int, count: int) -> np.ndarray:
    """[count] records of `dtype` at byte `offset`, memory-mapped read-only (no copy).

    The caller must have checked that the file is regular and holds them.
    """
    if count == 0:
        return np.empty(0, dtype=dtype)
    try:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,))
    except (OSError, ValueError) as exc:
        raise SceneError(path, f"cannot map the data ({exc})") from None


def write_file(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Create or replace `path` atomically with what `write` writes to the file it is given.

    Readers of `path` see the old file or the new one, never a partial file, even when the
    process is killed mid-write; on a failure the temporary file is removed.

    Raises:
        SceneError: when the file cannot be written (any OSError).
    """
    try:
        atomic_write(path, write)
    except OSError as exc:
        raise SceneError(path, f"cannot write ({exc.strerror or exc})") from None
