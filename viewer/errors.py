"""Error types raised for bad user input; the CLI prints them on one line and exits with 2."""

from __future__ import annotations

import os

EXIT_BAD_INPUT = 2  # exit code of every command for bad input (one line on stderr)


class SceneError(ValueError):
    """A scene, camera or path file that cannot be used, with the file it came from."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
