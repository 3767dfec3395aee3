"""Atomic replacement of files and folders: readers and crashes see the old one or the new one.

A file's data goes to a temporary file in the target's folder (viewer.temp_files names it), is
flushed and fsynced, and is then renamed over the target with os.replace (atomic within one file
system); the folder is fsynced afterwards so that the rename itself survives a power cut. On any
exception the temporary file is removed and the target is left as it was.

A folder of outputs that belong together (a bench run, a dataset) is written as a temporary
folder beside it and takes the old folder's place in one exchange (`atomic_folder`), so a killed
run never leaves new files beside old ones and two runs into one folder never mix.

Details:
- No output replaces a file the process read as input (viewer.input_files.check_not_input: the
  same file, a hard link or a symlink to it): OutputIsInputError, checked before the temporary
  file is made and again just before the rename.
- A target that is a symlink is followed: the file it points at is replaced and the link stays.
- The new file keeps the permission bits of the file it replaces; a new file gets 0o666 minus
  the umask, like open() would give it (not mkstemp's 0o600).
- An existing target that is not a regular file (a FIFO, a device, a folder) is refused.
- The first write into a folder removes the temporaries that killed processes left there
  (viewer.temp_files.sweep_stale).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from viewer.input_files import check_no_inputs_under, check_not_input
from viewer.temp_files import TEMP_SUFFIX, sweep_stale, temp_prefix, tracked

__all__ = ["atomic_folder", "atomic_output", "atomic_write", "atomic_write_text", "probe_folder"]

StrPath = str | os.PathLike[str]
_AT_FDCWD = -100  # Linux <fcntl.h>: paths relative to the working folder
_RENAME_EXCHANGE = 2  # Linux <linux/fs.h>: swap the two names atomically


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
        OutputIsInputError: when `path` is an input file of this process (before any write).
        OSError: when the temporary file cannot be created, written, synced or renamed, or the
            target exists and is not a regular file.
    """
    check_not_input(path)
    target = Path(os.path.realpath(path))  # replace what a symlink points at, keep the link
    mode = _target_mode(target)
    sweep_stale(target.parent)
    fd, temp_name = tempfile.mkstemp(
        dir=target.parent, prefix=temp_prefix(target), suffix=TEMP_SUFFIX
    )
    temp = Path(temp_name)
    with tracked(temp):
        try:
            with os.fdopen(fd, "wb") as file:
                yield file
                file.flush()
                if hasattr(os, "fchmod"):  # not on Windows before Python 3.13
                    os.fchmod(file.fileno(), mode)
                else:
                    os.chmod(temp, mode)
                os.fsync(file.fileno())
            check_not_input(target)  # a link made to an input meanwhile
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


def probe_folder(folder: StrPath) -> None:
    """Make and remove a temporary file in `folder`: whether a write there can work at all.

    Raises:
        OSError: when no file can be made there (permissions, a read-only mount, /proc).
    """
    target = Path(folder) / "probe"
    fd, name = tempfile.mkstemp(dir=folder, prefix=temp_prefix(target), suffix=TEMP_SUFFIX)
    os.close(fd)
    os.unlink(name)


def _exchange(a: Path, b: Path) -> None:
    """Swap the names `a` and `b` in one step (Linux renameat2 RENAME_EXCHANGE).

    Python's os module has no renameat2; where it or the file system lacks the exchange, `b`
    moves aside to a temporary name first, which leaves a moment without `b`.
    """
    try:
        rename = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        rename = None
    if rename is not None:
        done = rename(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
        if done == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(b))
    aside = Path(tempfile.mkdtemp(dir=b.parent, prefix=temp_prefix(b), suffix=TEMP_SUFFIX))
    with tracked(aside):
        os.replace(b, aside)
        os.replace(a, b)
        os.replace(aside, a)


@contextlib.contextmanager
def atomic_folder(path: StrPath, check_replaceable: Callable[[Path], None]) -> Iterator[Path]:
    """A new empty folder to fill; on success it takes the place of the folder `path`, whole.

    Usage::

        with atomic_folder(out, check) as folder:
            (folder / "report.json").write_text(...)

    `path` and the folders above it are made when missing. An existing folder at `path` is
    first passed to `check_replaceable`, which raises when it holds what may not go; then the
    two are exchanged in one rename and the old one is removed. No file under the old folder may
    be an input of this process. On an exception the new folder is removed and `path` is left
    as it was.

    Raises:
        OutputIsInputError: when a file under the old folder is an input of this process.
        OSError: when the folder cannot be made or renamed, or `path` is not a folder.
    """
    target = Path(os.path.realpath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target.parent)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=temp_prefix(target), suffix=TEMP_SUFFIX))
    with tracked(temp):
        try:
            yield temp
            os.chmod(temp, 0o777 & ~_umask())
            if os.path.lexists(target):
                if not target.is_dir():
                    raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(target))
                check_replaceable(target)
                check_no_inputs_under(target)
                _exchange(temp, target)  # `temp` names the old folder from here on
            else:
                os.rename(temp, target)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
    _fsync_folder(target.parent)
