"""A corpus of bad scene files, made here, through the `info` command in one child process with
its address space limited: each must end in one `splatscope: error:` line naming the file, exit
code 2 and no traceback (or load, when a mutation happens to leave a valid file), and none may
hang (each file has an alarm) or take more memory than the limit allows.

The readers' in-process fuzzing (hypothesis) is in test_formats_fuzz.py; this runs the command a
user runs, with what a user could hand it: truncated and bit-flipped files of every format,
files of the wrong kind under each suffix, empty files, FIFOs, devices, folders, and .spz files
declaring more points than fit in memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from tests.formats_helpers import (
    spz_bytes,
    spz_v4_bytes,
    stored_scene,
    write_compressed_ply,
    zeroed_spz,
)
from viewer.formats import save_scene

ADDRESS_SPACE = 4 << 30  # the child's ulimit -v: torch and numpy need ~1.5 GiB of it
ALARM_SECONDS = 60  # per file: a hang, not a speed limit

DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, resource, signal, sys
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, resource.RLIM_INFINITY))

    def hung(*_):
        raise TimeoutError("hung")

    signal.signal(signal.SIGALRM, hung)
    from viewer.cli import main

    results = {{}}
    for path in sys.argv[1:]:
        err = io.StringIO()
        signal.alarm({alarm})
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["info", path])
        except BaseException as exc:  # what a user would see as a traceback
            code = f"raised {{type(exc).__name__}}: {{exc}}"
        finally:
            signal.alarm(0)
        results[path] = [code, err.getvalue()]
    print(json.dumps(results))
    """
)


def seed_files(folder: Path) -> dict[str, bytes]:
    """Small valid files of every readable kind, name -> bytes."""
    scene = stored_scene(200, 1, seed=11)
    save_scene(scene, folder / "seed.ply")
    save_scene(scene, folder / "seed.splat")
    save_scene(scene, folder / "seed.spz")
    save_scene(scene, folder / "seed.compressed.ply")
    write_compressed_ply(scene, folder / "seed_supersplat.ply")
    files = {
        name: (folder / name).read_bytes()
        for name in ("seed.ply", "seed.splat", "seed.spz", "seed.compressed.ply",
                     "seed_supersplat.ply")
    }  # fmt: skip
    files["seed_v2.spz"] = spz_bytes(stored_scene(20, 1), version=2)
    files["seed_v3.spz"] = spz_bytes(stored_scene(20, 2), version=3)
    files["seed_v4.spz"] = spz_v4_bytes(stored_scene(20, 2))
    return files


def corpus(folder: Path) -> list[Path]:
    """The bad files, written into `folder`."""
    rng = np.random.default_rng(2026)
    files: dict[str, bytes] = {}
    for name, data in seed_files(folder).items():
        stem, suffix = name.split(".", 1)
        for cut in (0, 1, 5, 16, 33, len(data) // 3, len(data) // 2, len(data) - 1):
            files[f"{stem}_cut{cut}.{suffix}"] = data[:cut]
        for flip in range(4):
            mutated = bytearray(data)
            for at in rng.integers(0, len(data), size=1 + flip * 3):
                mutated[at] ^= 1 << int(rng.integers(8))
            files[f"{stem}_flip{flip}.{suffix}"] = bytes(mutated)
        files[f"{stem}_tail.{suffix}"] = data + rng.bytes(77)
    for suffix in ("ply", "splat", "spz", "compressed.ply"):
        files[f"random.{suffix}"] = rng.bytes(4096)
        files[f"text.{suffix}"] = b"this is not a scene\n" * 40
        files[f"empty.{suffix}"] = b""
    files["ply_header_only.ply"] = b"ply\nformat binary_little_endian 1.0\nend_header\n"
    files["huge_count.ply"] = (
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\n"
        b"property float x\nproperty float y\nproperty float z\nend_header\n" + bytes(64)
    )
    files["zeros_40M.spz"] = zeroed_spz(40_000_000)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    paths = [folder / name for name in files]
    os.mkfifo(folder / "fifo.ply")
    (folder / "zero.spz").symlink_to("/dev/zero")
    (folder / "zero.ply").symlink_to("/dev/zero")
    (folder / "folder.splat").mkdir()
    return [*paths, folder / "fifo.ply", folder / "zero.spz", folder / "zero.ply",
            folder / "folder.splat", folder / "missing.ply"]  # fmt: skip


def test_every_bad_file_is_one_line_exit_2_no_traceback_in_bounded_memory(tmp_path):
    paths = corpus(tmp_path)
    assert len(paths) > 100
    driver = DRIVER.format(limit=ADDRESS_SPACE, alarm=ALARM_SECONDS)
    env = {**os.environ, "EGL_PLATFORM": "surfaceless", "XDG_CACHE_HOME": str(tmp_path / "c")}
    done = subprocess.run(
        [sys.executable, "-c", driver, *map(str, paths)],
        capture_output=True, text=True, timeout=len(paths) * ALARM_SECONDS, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.splitlines()[-1])
    loaded = 0
    for path in map(str, paths):
        code, stderr = results[path]
        assert "Traceback" not in stderr, (path, stderr)
        lines = [line for line in stderr.splitlines() if line.strip()]
        if code == 0:  # a mutation that left a valid scene: warnings are fine
            loaded += 1
            assert all(line.startswith("splatscope: warning:") for line in lines), (path, lines)
            continue
        assert code == 2, (path, code, stderr)
        assert len(lines) == 1 and lines[0].startswith("splatscope: error: "), (path, lines)
        assert Path(path).name in lines[0], (path, lines)
    assert loaded < len(paths) // 4  # most of the corpus is really broken
