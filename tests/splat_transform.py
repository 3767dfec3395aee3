"""PlayCanvas's splat-transform (the reference SOG/GLB tool) for the interoperability tests.

The pinned version is installed once per machine with npm into the user cache,
$XDG_CACHE_HOME/splatscope/npm/splat-transform-<VERSION> (default ~/.cache/...): the first run
downloads about 60 MB of packages (seconds to a minute); later runs reuse it. A file lock keeps
two pytest workers from installing at once, and a marker file written last tells a finished
install from an interrupted one. Without node or npm, or where the install fails (no network),
the tests that need the tool are skipped with the reason.

The CLI runs with `-g cpu` (no WebGPU device: the SOG writer's SH k-means on the CPU), `-q -w`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE = "@playcanvas/splat-transform"
VERSION = "3.10.2"
INSTALL_TIMEOUT_S = 600  # a cold npm install over a slow network
RUN_TIMEOUT_S = 600  # one conversion of a test scene (seconds in practice)


def install_dir() -> Path:
    """The folder the pinned version is installed into."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "splatscope" / "npm" / f"splat-transform-{VERSION}"


def _cli(folder: Path) -> Path:
    return folder / "node_modules" / ".bin" / "splat-transform"


def _missing_tools() -> str | None:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (needed to run {PACKAGE})"
    return None


def ensure_installed() -> Path:
    """The CLI of the pinned splat-transform, installed on first use; skips the test without it."""
    missing = _missing_tools()
    if missing:
        pytest.skip(missing)
    folder = install_dir()
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "installed"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if marker.exists() and _cli(folder).exists():
            return _cli(folder)
        command = [
            "npm", "install", "--prefix", str(folder), "--ignore-scripts", "--no-audit",
            "--no-fund", "--fetch-retries=1", f"{PACKAGE}@{VERSION}",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {PACKAGE}@{VERSION} took over {INSTALL_TIMEOUT_S} s")
        if done.returncode != 0 or not _cli(folder).exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"npm could not install {PACKAGE}@{VERSION} (offline?): {last}")
        marker.write_text(VERSION)
    return _cli(folder)


def run(cli: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run splat-transform with `args` (inputs, output, options); the result, failed or not."""
    command = [str(cli), "-q", "-w", "-g", "cpu", *map(str, args)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False
    )


def convert(cli: Path, source: Path, target: Path, *options: str) -> None:
    """Convert `source` to `target` with splat-transform; the test fails, saying why, if it does."""
    done = run(cli, *options, source, target)
    if done.returncode != 0 or not target.exists():
        pytest.fail(f"splat-transform {source.name} -> {target.name} failed: {done.stderr[-800:]}")
