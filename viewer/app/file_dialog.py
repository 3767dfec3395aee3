"""Choosing a scene to open: the system's file dialog, else the window's own browser.

The system's dialog is imgui-bundle's portable-file-dialogs, polled without blocking; it needs
one of HELPERS installed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from imgui_bundle import portable_file_dialogs as pfd

from viewer.app.file_browser import FileBrowser
from viewer.formats import READABLE_SUFFIXES

# Programs portable-file-dialogs drives on Linux; without one there is no dialog to show.
HELPERS = ("zenity", "kdialog", "matedialog", "qarma")
SCENE_FILTERS = ["Gaussian scenes", " ".join(f"*{s}" for s in READABLE_SUFFIXES), "All files", "*"]


def available() -> bool:
    """Whether a dialog can be shown on this machine."""
    return any(shutil.which(helper) for helper in HELPERS)


class FileDialog:
    """At most one open-file dialog at a time; `poll` each frame returns the chosen path once."""

    def __init__(self) -> None:
        self._dialog: pfd.open_file | None = None

    @property
    def open(self) -> bool:
        """Whether a dialog is showing."""
        return self._dialog is not None

    def show(self, title: str = "Open a scene", start: str = "") -> None:
        """Show the dialog (no-op while one is already showing)."""
        if self._dialog is None:
            self._dialog = pfd.open_file(title, start, SCENE_FILTERS)

    def poll(self) -> str | None:
        """The path chosen, once the dialog closed with one; None otherwise."""
        if self._dialog is None or not self._dialog.ready(0):
            return None
        chosen = self._dialog.result()
        self._dialog = None
        return chosen[0] if chosen else None


class SceneChooser:
    """The system's dialog where `available`, else a `FileBrowser`; `draw` each frame."""

    def __init__(self) -> None:
        self.system = available()
        self.dialog = FileDialog()
        self.browser = FileBrowser()

    def show(self, start: Path) -> None:
        """Ask for a scene, starting in the folder `start` (the working folder if it is none)."""
        if self.system:
            self.dialog.show(start=str(start))
        else:
            self.browser.show(start if start.is_dir() else Path.cwd())

    def draw(self) -> str | None:
        """Draw the browser if it is open; the path chosen this frame (either way), else None."""
        return self.browser.draw() or self.dialog.poll()
