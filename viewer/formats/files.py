"""File access for the scene readers and writers: every OS failure becomes a SceneError.

Readers only open regular files: a FIFO would block the open, and a device such as /dev/zero
behind a scene name would be read forever, so both are refused from their stat before any
open, and the open itself is non-blocking and checked again (the path could change between).
Writers replace their target atomically (viewer.atomic_write).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from viewer.atomic_write import atomic_write
from viewer.errors import SceneError

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _os_problem(exc: OSError) -> str:
    """One-line description of a failed file access."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, expected a file"
    return f"cannot read ({exc.strerror or exc})"


def _check_regular(path: Path, mode: int) -> None:
    """Raise SceneError unless `mode` (an st_mode) is a regular file's."""
    if stat.S_ISDIR(mode):
        raise SceneError(path, "is a directory, expected a file")
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
        raise SceneError(path, f"not a regular file ({kind}); scene files must be regular files")


def file_size(path: Path) -> int:
    """Size of a regular file in bytes.

    Raises:
        SceneError: when the file is missing, unreadable, a directory or not a regular file.
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SceneError(path, _os_problem(exc)) from None
    _check_regular(path, info.st_mode)
    return info.st_size


def read_bytes(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file (the first `limit` of them when given).

    Raises:
        SceneError: when the file is missing, unreadable, a directory or not a regular file
            (checked before it is opened, so a FIFO never blocks).
    """
    file_size(path)
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # POSIX: a FIFO swapped in since cannot block
    flags = os.O_RDONLY | nonblocking | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SceneError(path, _os_problem(exc)) from None
    try:
        _check_regular(path, os.fstat(fd).st_mode)  # the path may have changed since the stat
        if nonblocking:
            os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as file:
            fd = -1  # owned by `file` now
            return file.read(-1 if limit is None else limit)
    except OSError as exc:
        raise SceneError(path, _os_problem(exc)) from None
    finally:
        if fd >= 0:
            os.close(fd)


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
