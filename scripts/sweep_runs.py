"""What the README's sweep scripts share: their scenes, the bench run, its numbers, the figure.

Imported by scripts/lod_sweep.py and scripts/fov_sweep.py (run from the repository, so this
folder is on the import path).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENES = [str(REPO.parent / "shared" / "scenes" / "donut.ply"), "builtin"]
sys.path.insert(0, str(REPO))


def scene_label(scene: str) -> str:
    """How figures and tables name `scene` ("builtin": the built-in scene)."""
    return "built-in scene" if scene == "builtin" else Path(scene).stem


def bench_report(scene: str, out: Path, options: list[str]) -> dict[str, Any]:
    """Run `splatscope bench` on `scene` into `out` with `options`; its report.json."""
    command = [sys.executable, "-m", "viewer", "bench"] + ([] if scene == "builtin" else [scene])
    subprocess.run([*command, "--out", str(out), *options], check=True)
    return json.loads((out / "report.json").read_text())


def frame_rows(out: Path) -> dict[str, list[dict[str, str]]]:
    """The rows of the run's frames.csv by configuration, in frame order."""
    rows: dict[str, list[dict[str, str]]] = {}
    with (out / "frames.csv").open() as stream:
        for row in csv.DictReader(stream):
            rows.setdefault(row["config"], []).append(row)
    return rows


def psnr_of(config: dict[str, Any], key: str = "psnr") -> float:
    """Mean PSNR `key` of a report's configuration (inf when every frame was identical)."""
    mean = config[key]["mean"]
    return float("inf") if mean is None else float(mean)


def save_figure(fig: Any, path: Path, dpi: int) -> None:
    """Write a matplotlib figure as a PNG, replacing `path` atomically."""
    from viewer.atomic_write import atomic_write

    atomic_write(path, lambda file: fig.savefig(file, format="png", dpi=dpi))
