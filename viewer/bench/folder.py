"""The bench's output folder: the names a run writes, and whether a folder may take a new run.

A run's files are written into a temporary folder that then takes the output folder's place
whole (viewer.atomic_write.atomic_folder), so a folder is either an earlier run's, new or empty:
one holding anything else (a scene, someone's notes) is refused before the run, since replacing
the folder would delete it.
"""

from __future__ import annotations

import os
from pathlib import Path

from viewer.errors import SceneError, quoted
from viewer.input_files import OutputIsInputError, check_no_inputs_under

REPORT = "report.json"
FRAMES = "frames.csv"
FRAME_TIMES_PLOT = "frame_times.png"
PASSES_PLOT = "passes.png"
QUALITY_PLOT = "quality_fps.png"
WORST_DIR = "worst"  # the worst frame of each configuration and its reference, as PNGs
RUN_FILES = (REPORT, FRAMES, FRAME_TIMES_PLOT, PASSES_PLOT, QUALITY_PLOT)
SHOWN_NAMES = 3  # strangers named in the message


def _strangers(folder: Path) -> list[str]:
    """What `folder` holds that no bench run writes, as paths relative to it (sorted)."""
    strangers = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name == WORST_DIR and entry.is_dir(follow_symlinks=False):
            strangers += [
                f"{WORST_DIR}/{inner.name}"
                for inner in sorted(os.scandir(entry.path), key=lambda e: e.name)
                if not (inner.name.endswith(".png") and inner.is_file(follow_symlinks=False))
            ]
        elif entry.name not in RUN_FILES or not entry.is_file(follow_symlinks=False):
            strangers.append(entry.name)
    return strangers


def check_run_folder(folder: Path, label: str) -> None:
    """Raise SceneError naming `label` unless a new run may replace the existing `folder`.

    It may when it holds only what a run writes (as regular files, not links) and none of it is
    an input of this process (the scene, a path file: also through a hard link).
    """
    try:
        check_no_inputs_under(folder)
        strangers = _strangers(folder)
    except OutputIsInputError as exc:
        raise SceneError(f"{label}: {quoted(exc.filename)}", exc.problem) from None
    except OSError as exc:
        raise SceneError(label, f"cannot list the folder ({exc.strerror or exc})") from None
    if strangers:
        shown = ", ".join(strangers[:SHOWN_NAMES]) + (
            ", ..." if len(strangers) > SHOWN_NAMES else ""
        )
        raise SceneError(
            label,
            f"holds files a bench does not write ({shown}); a run replaces its folder whole, so "
            "name a new folder, an empty one or an earlier run's",
        )
