"""The files of a SOG scene: members of a bundled .sog (ZIP) or files beside a meta.json.

Both hand out a file's bytes by the name meta.json gives it, within bounds:
- a name must be relative and stay inside the scene: no absolute path, no '..' part, no
  backslash; in a folder the file's real path (symlinks followed) must lie under the folder;
- a file may hold at most the bytes the caller allows (an image of the scene's size cannot need
  more), checked before it is read; a ZIP member's declared size is checked before it is
  inflated, also against MAX_DEFLATE_RATIO times its compressed size and, with all members read
  before it, the memory available; zipfile then inflates no more than the declared size (and
  checks the CRC), so a member that lies about its size fails instead of filling memory.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from viewer.errors import SceneError
from viewer.formats.limits import available_memory, gigabytes
from viewer.input_files import file_size, open_input, read_bytes

META_NAME = "meta.json"
MAX_META_BYTES = 64 * 2**20  # a meta.json holds a few codebooks: kilobytes
MAX_DEFLATE_RATIO = 1032  # deflate cannot expand data by more than this


def checked_name(source: Path, name: object, owner: str = META_NAME) -> str:
    """`name` when it is a relative path that stays inside the scene (`owner` names it).

    Raises:
        SceneError: for a name that is not a string, is empty, holds a character that is not
            printable or a backslash, is absolute or has a '..' part.
    """
    if not isinstance(name, str) or not name or not name.isprintable():
        raise SceneError(source, f"{owner} names a file {name!r}, not a file name")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or "\\" in name or ".." in parts or (parts and ":" in parts[0]):
        raise SceneError(source, f"{owner} names '{name}', which leaves the scene's folder")
    return name


def file_beside(source: Path, name: object, owner: str = META_NAME) -> Path:
    """The path of the file `name` (relative to `source`'s folder, as `owner` names it).

    Raises:
        SceneError: for a name that leaves the folder (checked_name), or whose real path
            (symlinks followed) lies outside it.
    """
    root = Path(os.path.realpath(source.parent))
    path = root / checked_name(source, name, owner)
    if not Path(os.path.realpath(path)).is_relative_to(root):
        raise SceneError(source, f"'{name}' is a link that leaves the scene's folder")
    return path


class SogFolder:
    """The files beside a meta.json."""

    def __init__(self, meta: Path) -> None:
        self.source = meta

    def path(self, name: str) -> Path:
        """The path of the file `name` (relative to the folder).

        Raises:
            SceneError: for a name that leaves the folder, symlinks included.
        """
        return file_beside(self.source, name)

    def read(self, name: str, limit: int) -> bytes:
        """The bytes of the file `name` (relative to the folder), at most `limit` of them.

        Raises:
            SceneError: for a name that leaves the folder (symlinks included), or a file that
                is missing, special or larger than `limit` or the memory available.
        """
        path = self.path(name)
        size = file_size(path)
        available = available_memory()
        if size > limit or (available is not None and size > available):
            raise SceneError(path, f"{size:,} bytes, too large for this scene's {name}")
        return read_bytes(path)

    def close(self) -> None:
        """Nothing to close (each file is read whole when asked for)."""


class SogBundle:
    """The members of a bundled .sog, a ZIP with meta.json and the images at its root."""

    def __init__(self, path: Path) -> None:
        self.source = path
        self._file = open_input(path)  # members are read from it one at a time
        try:
            self._zip = zipfile.ZipFile(self._file)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
            self._file.close()
            raise SceneError(path, f"not a SOG bundle: not a readable ZIP file ({exc})") from None
        self._budget = available_memory()

    def close(self) -> None:
        """Close the archive."""
        self._zip.close()
        self._file.close()

    def read(self, name: str, limit: int) -> bytes:
        """The inflated bytes of the member `name`, at most `limit` of them.

        Raises:
            SceneError: for a missing member, one whose declared size is over `limit`, too
                large for its compressed size or for memory, or one that does not inflate to it.
        """
        checked_name(self.source, name)
        try:
            info = self._zip.getinfo(name)
        except KeyError:
            raise SceneError(self.source, f"the bundle has no member '{name}'") from None
        stored = info.compress_type == zipfile.ZIP_STORED
        if info.file_size > limit or (
            not stored and info.file_size > max(1, info.compress_size) * MAX_DEFLATE_RATIO
        ):
            raise SceneError(
                self.source,
                f"member '{name}' declares {info.file_size:,} bytes from {info.compress_size:,}"
                " compressed: too large (a ZIP bomb?)",
            )
        if self._budget is not None:
            if info.file_size > self._budget:
                raise SceneError(
                    self.source,
                    f"member '{name}' inflates to {gigabytes(info.file_size)}, more than the "
                    "memory available",
                )
            self._budget -= info.file_size
        try:
            return self._zip.read(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
            raise SceneError(self.source, f"member '{name}' cannot be read ({exc})") from None
        except RuntimeError as exc:  # zipfile's error for an encrypted member
            raise SceneError(self.source, f"member '{name}' cannot be read ({exc})") from None


SogFiles = SogFolder | SogBundle
