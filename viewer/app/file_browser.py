"""A file browser drawn in the window, for machines without a system file dialog.

imgui-bundle's portable-file-dialogs needs zenity or kdialog on Linux, and its ImFileDialog needs
the immapp runner (not this app's GLFW backend), so a small browser of our own lists a folder:
its sub-folders first, then the scene files; a double click enters a folder or opens a scene.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from imgui_bundle import imgui

from viewer.errors import quoted
from viewer.formats import READABLE_SUFFIXES

POPUP = "Open a scene##browser"


@dataclass(frozen=True)
class Entry:
    """One line of the listing: a folder to enter or a scene file to open."""

    name: str
    folder: bool


def list_folder(folder: Path) -> list[Entry]:
    """The sub-folders (not hidden) and scene files of `folder`, each group by name.

    Raises:
        OSError: when the folder cannot be listed.
    """
    folders, files = [], []
    for entry in os.scandir(folder):
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                folders.append(Entry(entry.name, True))
            elif entry.name.lower().endswith(READABLE_SUFFIXES):
                files.append(Entry(entry.name, False))
        except OSError:
            continue  # a dangling link, a folder we may not read: not offered
    return sorted(folders, key=lambda e: e.name) + sorted(files, key=lambda e: e.name)


class FileBrowser:
    """A modal listing; `show` opens it, `draw` every frame returns the path chosen, once."""

    def __init__(self) -> None:
        self.folder = Path.cwd()
        self.entries: list[Entry] = []
        self.error = ""
        self._opening = False

    def show(self, start: Path) -> None:
        """Open the browser on `start` (a folder)."""
        self.enter(start)
        self._opening = True

    def enter(self, folder: Path) -> None:
        """List `folder` (an error line when it cannot be read; the old listing is kept)."""
        try:
            self.entries = list_folder(folder)
        except OSError as exc:
            self.error = f"cannot list {quoted(folder)}: {exc.strerror or exc}"
            return
        self.folder, self.error = folder.resolve(), ""

    def draw(self) -> str | None:
        """Draw the browser if open; the scene file chosen this frame, else None."""
        if self._opening:
            imgui.open_popup(POPUP)
            self._opening = False
        if not imgui.begin_popup_modal(POPUP, None, imgui.WindowFlags_.always_auto_resize.value)[0]:
            return None
        chosen = None
        imgui.text(quoted(str(self.folder)))
        if self.error:
            imgui.text_colored(imgui.ImVec4(1.0, 0.4, 0.4, 1.0), self.error)
        if imgui.begin_list_box("##entries", imgui.ImVec2(480.0, 300.0)):
            for entry in [Entry("..", True), *self.entries]:
                label = f"{quoted(entry.name)}/" if entry.folder else quoted(entry.name)
                flags = imgui.SelectableFlags_.allow_double_click.value
                if imgui.selectable(label, False, flags)[0] and imgui.is_mouse_double_clicked(0):
                    if entry.folder:
                        self.enter(self.folder / entry.name)
                    else:
                        chosen = str(self.folder / entry.name)
            imgui.end_list_box()
        if imgui.button("Cancel") or chosen is not None:
            imgui.close_current_popup()
        imgui.end_popup()
        return chosen
