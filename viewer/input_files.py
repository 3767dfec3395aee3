"""Reading input files, and remembering them so that no output of the process replaces one.

Every reader of a user's file (scenes, cameras, camera paths, sweeps, datasets and their images
and points, checkpoints, the caches) goes through `file_size`, `read_bytes` or `open_input` (a
file object for a decoder that reads from one: PIL, plyfile, numpy's .npz):
- only regular files are opened: a FIFO would block the open, and a device such as /dev/zero
  behind a file name would be read forever, so both are refused from their stat before any open,
  and the open itself is non-blocking and checked again (the path could change between);
- the file is remembered as an input (by device and inode, so a hard link or a symlink to it
  is the same file), and `check_not_input` refuses any output that is one. The writers call it
  (viewer.atomic_write), and the commands call it on their outputs before any work.

An input is forgotten when its path no longer names that file (deleted or replaced since), so a
reused inode number never blocks an unrelated write.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
from typing import Any, BinaryIO

from viewer.errors import SceneError, quoted

StrPath = str | os.PathLike[str]

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}

MAX_JSON_BYTES = 256 * 2**20  # far above any camera or sweep file; a scene passed by mistake

_inputs: dict[tuple[int, int], str] = {}  # (device, inode) -> the path it was read as
_inputs_lock = threading.Lock()


class OutputIsInputError(OSError):
    """An output path names a file the process read as input (the same file, a link to it)."""

    def __init__(self, output: StrPath, source: str) -> None:
        how = "" if os.path.abspath(output) == os.path.abspath(source) else " under another name"
        self.problem = f"is the input file {quoted(source)}{how}; refusing to overwrite it"
        super().__init__(errno.EEXIST, self.problem, os.fspath(output))


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _remember(info: os.stat_result, path: StrPath) -> None:
    """Count the regular file `info` describes, read as `path`, among the inputs."""
    with _inputs_lock:
        _inputs[_identity(info)] = os.fspath(path)


def remember_inputs(*paths: StrPath | None) -> None:
    """Count `paths` (following symlinks) among the inputs that no output may replace.

    None is skipped (no file named), and so is a path that cannot be inspected: its reader
    reports the problem.
    """
    for path in paths:
        if path is None:
            continue
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(info.st_mode):
            _remember(info, path)


def input_named_by(path: StrPath) -> str | None:
    """The input file that `path` names (same file: links included), else None."""
    try:
        key = _identity(os.stat(path))
    except (OSError, ValueError):
        return None
    with _inputs_lock:
        source = _inputs.get(key)
    if source is None:
        return None
    try:
        still = _identity(os.stat(source)) == key
    except (OSError, ValueError):
        still = False
    if not still:  # the input's path names another file now: it is no longer ours to keep
        with _inputs_lock:
            _inputs.pop(key, None)
        return None
    return source


def check_not_input(path: StrPath) -> None:
    """Raise OutputIsInputError when the output `path` is an input file of this process."""
    source = input_named_by(path)
    if source is not None:
        raise OutputIsInputError(path, source)


def check_no_inputs_under(folder: StrPath) -> None:
    """Raise OutputIsInputError when a file under `folder` (to be replaced whole) is an input."""
    for root, _dirs, files in os.walk(folder):
        for name in files:
            check_not_input(os.path.join(root, name))


def _os_problem(exc: OSError) -> str:
    """One-line description of a failed file access."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, expected a file"
    return f"cannot read ({exc.strerror or exc})"


def _check_regular(path: StrPath, mode: int) -> None:
    """Raise SceneError unless `mode` (an st_mode) is a regular file's."""
    if stat.S_ISDIR(mode):
        raise SceneError(path, "is a directory, expected a file")
    if not stat.S_ISREG(mode):
        kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
        raise SceneError(path, f"not a regular file ({kind}); input files must be regular files")


def file_size(path: StrPath, *, remember: bool = True) -> int:
    """Size of a regular file in bytes; the file is remembered as an input.

    Raises:
        SceneError: when the file is missing, unreadable, a directory or not a regular file.
    """
    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        problem = _os_problem(exc) if isinstance(exc, OSError) else f"bad file name ({exc})"
        raise SceneError(path, problem) from None
    _check_regular(path, info.st_mode)
    if remember:
        _remember(info, path)
    return info.st_size


def open_input(path: StrPath, *, remember: bool = True) -> BinaryIO:
    """A regular file opened for binary reading (the caller closes it), remembered as input.

    For decoders that read from a file object (PIL, plyfile, numpy's .npz); `read_bytes` when
    the bytes are wanted.

    Raises:
        SceneError: when the file is missing, unreadable, a directory or not a regular file
            (checked before it is opened, so a FIFO never blocks, and again on the open file,
            so a file swapped in between is refused too).
    """
    file_size(path, remember=remember)
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
        file = os.fdopen(fd, "rb")
    except OSError as exc:
        os.close(fd)
        raise SceneError(path, _os_problem(exc)) from None
    except BaseException:
        os.close(fd)
        raise
    return file


def read_bytes(path: StrPath, limit: int | None = None, *, remember: bool = True) -> bytes:
    """The bytes of a regular file (the first `limit` of them when given), remembered as input.

    Raises:
        SceneError: when the file is missing, unreadable, a directory or not a regular file
            (checked before it is opened, so a FIFO never blocks).
    """
    with open_input(path, remember=remember) as file:
        try:
            return file.read(-1 if limit is None else limit)
        except OSError as exc:
            raise SceneError(path, _os_problem(exc)) from None


def read_json(
    path: StrPath, what: str, limit: int = MAX_JSON_BYTES, *, remember: bool = True
) -> Any:
    """The JSON document in a regular file, as json.loads gives it.

    Args:
        path: the file.
        what: what the file should be, for messages ("a JSON camera file").
        limit: the most bytes the file may hold.
        remember: count the file among the inputs (False for a document the process edits and
            saves back, such as the viewer's camera path).

    Raises:
        SceneError: naming the file: missing, special, larger than `limit`, not UTF-8 JSON, or
            nested too deeply for the parser.
    """
    size = file_size(path, remember=remember)
    if size > limit:
        raise SceneError(path, f"not {what} ({size / 2**20:,.0f} MiB of JSON is too much)")
    try:
        return json.loads(read_bytes(path, remember=remember))
    except UnicodeDecodeError:
        raise SceneError(path, f"not {what} (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise SceneError(path, f"not {what} ({exc.msg} at line {exc.lineno})") from None
    except ValueError:  # an integer past Python's int-from-string limit (4300 digits)
        raise SceneError(path, f"not {what} (a number too long to read)") from None
    except RecursionError:
        raise SceneError(path, f"not {what} (nested too deeply)") from None
