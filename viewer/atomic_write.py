"""Atomic file replacement: a reader, a crash or a kill -9 sees the old file or the new one, whole.

The data goes to a uniquely named temporary file in the target's folder, is flushed and fsynced,
and is then renamed over the target with os.replace (atomic within one file system); the folder
is fsynced afterwards so that the rename itself survives a power cut. On any exception the
temporary file is removed and the target is left as it was.

Details:
- A target that is a symlink is followed: the file it points at is replaced and the link stays.
- Replacing gives the target a new inode, so other hard links to it keep the old contents (use
  `same_file` to recognise an output that is the input under another name).
- The new file keeps the permission bits of the file it replaces; a new file gets 0o666 minus
  the umask, like open() would give it (not mkstemp's 0o600).
- An existing target that is not a regular file (a FIFO, a device, a folder) is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_output", "atomic_write", "atomic_write_text", "same_file"]

StrPath = str | os.PathLike[str]


def same_file(a: StrPath, b: StrPath) -> bool:
    """Whether two paths name the same file (same device and inode, following symlinks).

    True for a hard link or a symlink to the other path, or the same file spelled differently;
    False when either path does not exist or cannot be inspected.
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def _target_mode(target: Path) -> int:
    """Permission bits for the new file: the replaced file's, or 0o666 minus the umask.

    Raises:
        IsADirectoryError, OSError: when the target exists but is not a regular file.
    """
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return 0o666 & ~_umask()
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(target))
    if not stat.S_ISREG(info.st_mode):
        raise OSError(errno.EINVAL, "not a regular file, refusing to replace it", str(target))
    return stat.S_IMODE(info.st_mode)


def _fsync_folder(folder: Path) -> None:
    """Fsync a folder so that a rename inside it is durable (best effort: not every OS/FS can)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(path: StrPath) -> Iterator[BinaryIO]:
    """A binary file to write the new contents of `path` to; it replaces `path` on success.

    Usage::

        with atomic_output("scene.ply") as file:
            file.write(data)

    The target is replaced only when the block finishes without an exception; otherwise the
    temporary file is removed and the exception propagates.

    Raises:
        OSError: when the temporary file cannot be created, written, synced or renamed, or the
            target exists and is not a regular file.
    """
    target = Path(os.path.realpath(path))  # replace what a symlink points at, keep the link
    mode = _target_mode(target)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
                os.fchmod(file.fileno(), mode)
            else:
                os.chmod(temp, mode)
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_folder(target.parent)


def atomic_write(path: StrPath, write: Callable[[BinaryIO], object]) -> None:
    """Replace `path` atomically with what `write` writes to the file object it is given.

    Raises:
        OSError: as atomic_output; any exception from `write` propagates (the target is kept).
    """
    with atomic_output(path) as file:
        write(file)


def atomic_write_text(path: StrPath, text: str) -> None:
    """Replace `path` atomically with `text`, UTF-8 encoded."""
    atomic_write(path, lambda file: file.write(text.encode("utf-8")))
