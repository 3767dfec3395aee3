"""Temporary files and folders of splatscope's writes: recognisable, and removed in any event.

A temporary name is `.<target name>.splatscope-<host>-<pid>-<random>.tmp`, in the target's
folder (a rename into place is atomic within one file system only). Three ways it goes away:
- the write finishes or fails: the writer removes it (or renames it into place);
- the process is stopped by SIGINT, SIGTERM or SIGHUP (`termination_signals_interrupt`): the
  signal ends the command as Ctrl+C does, and an exit hook removes what is still open, also
  what threads other than the main one were writing;
- the process was killed outright (SIGKILL, a power cut): the next write into the same folder
  (`sweep_stale`) removes the temporaries whose process is gone. Only names of this host are
  swept (a folder shared over the network may hold another machine's live writes) and never
  this process's own; a process id reused since keeps its predecessor's files until it ends.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

__all__ = [
    "TEMP_SUFFIX",
    "Terminated",
    "remove_open_temporaries",
    "sweep_stale",
    "temp_prefix",
    "termination_signals_interrupt",
    "tracked",
]

TEMP_SUFFIX = ".tmp"
_TAG = "splatscope"
_NAME_KEPT = 96  # characters of the target's name kept in a temporary's (NAME_MAX is 255)
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:8]
_PATTERN = re.compile(rf"^\..*\.{_TAG}-([0-9a-f]{{8}})-([0-9]+)-[^.]+{re.escape(TEMP_SUFFIX)}$")

_open: set[Path] = set()  # temporaries this process is writing now
_open_lock = threading.Lock()
_swept: set[Path] = set()  # folders swept by this process (once each is enough)


def temp_prefix(target: Path) -> str:
    """The start of a temporary name for `target` (mkstemp/mkdtemp add the random part)."""
    return f".{target.name[:_NAME_KEPT]}.{_TAG}-{_HOST}-{os.getpid()}-"


def _remove(path: Path) -> None:
    """Remove a temporary file or folder; gone already is fine."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


@contextlib.contextmanager
def tracked(path: Path) -> Iterator[None]:
    """Count `path` among the open temporaries while the block runs (see the exit hook)."""
    with _open_lock:
        _open.add(path)
    try:
        yield
    finally:
        with _open_lock:
            _open.discard(path)


def remove_open_temporaries() -> None:
    """Remove every temporary still open (at exit: a thread may have been stopped mid-write)."""
    with _open_lock:
        paths = list(_open)
        _open.clear()
    for path in paths:
        _remove(path)


atexit.register(remove_open_temporaries)


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (one we may not signal exists too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def sweep_stale(folder: Path) -> list[Path]:
    """Remove the temporaries in `folder` left by processes of this host that are gone.

    Done once per folder and process; returns what was removed.
    """
    folder = Path(os.path.realpath(folder))
    if folder in _swept:
        return []
    _swept.add(folder)
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _PATTERN.match(entry.name)
        if match is None or match[1] != _HOST:
            continue
        pid = int(match[2])
        if pid == os.getpid() or _alive(pid):
            continue
        _remove(Path(entry.path))
        removed.append(Path(entry.path))
    return removed


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGHUP: the command ends as on Ctrl+C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def termination_signals_interrupt() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise Terminated in the main thread.

    So a stopped command cleans up (temporary files, GL contexts) as on Ctrl+C. Signals with a
    handler of their own are left alone, and the handlers are restored afterwards. Outside the
    main thread (where Python cannot take signals) it does nothing.
    """
    changed = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            number = getattr(signal, name, None)
            if number is not None and signal.getsignal(number) is signal.SIG_DFL:
                changed[number] = signal.signal(number, _raise_terminated)
    try:
        yield
    finally:
        for number, handler in changed.items():
            signal.signal(number, handler)
