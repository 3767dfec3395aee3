"""File access for the scene readers and writers: every OS failure becomes a SceneError."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from viewer.errors import SceneError


def _os_problem(exc: OSError) -> str:
    """One-line description of a failed file access."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, expected a file"
    return f"cannot read ({exc.strerror or exc})"


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes (the first `limit` of them when given).

    Raises:
        SceneError: when the file is missing, a directory or unreadable.
    """
    try:
        with open(path, "rb") as file:
            return file.read(-1 if limit is None else limit)
    except OSError as exc:
        raise SceneError(path, _os_problem(exc)) from None


def file_size(path: Path) -> int:
    """Size of a regular file in bytes.

    Raises:
        SceneError: when the file is missing, a directory or unreadable.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SceneError(path, _os_problem(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise SceneError(path, "is a directory, expected a file")
    return info.st_size


def map_records(path: Path, dtype: np.dtype, offset: int, count: int) -> np.ndarray:
    """[count] records of `dtype` at byte `offset`, memory-mapped read-only (no copy).

    The caller must have checked that the file holds them.
    """
    if count == 0:
        return np.empty(0, dtype=dtype)
    try:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(count,))
    except (OSError, ValueError) as exc:
        raise SceneError(path, f"cannot map the data ({exc})") from None


def write_file(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Create (or replace) `path` and fill it through `write`; no partial file is left behind.

    Raises:
        SceneError: when the file cannot be written.
    """
    try:
        file = open(path, "wb")  # noqa: SIM115 (closed below, after a failed write is undone)
    except OSError as exc:
        raise SceneError(path, f"cannot write ({exc.strerror or exc})") from None
    try:
        with file:
            write(file)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise SceneError(path, f"cannot write ({exc.strerror or exc})") from None
