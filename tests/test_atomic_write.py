"""viewer.atomic_write: a reader sees the old file or the new one, whole, even when the writer is
killed with SIGKILL at any point; permissions kept; nothing left behind on failure."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.formats_helpers import ARRAY_NAMES, stored_scene
from viewer.atomic_write import atomic_output, atomic_write
from viewer.errors import SceneError
from viewer.formats import load_scene, save_scene
from viewer.scene import GaussianScene

TESTS = Path(__file__).resolve().parent
BIG_COUNT = 300_000  # INRIA .ply of SH degree 3: 74 MB
OLD_COUNT = 1000


def _leftovers(folder: Path, keep: set[str]) -> list[str]:
    """Names in `folder` other than `keep`."""
    return sorted(name for name in os.listdir(folder) if name not in keep)


def _assert_same_scene(actual: GaussianScene, expected: GaussianScene) -> None:
    for name in ARRAY_NAMES:
        np.testing.assert_array_equal(getattr(actual, name), getattr(expected, name), name)


def test_new_file_gets_the_umask_mode_not_0600(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new.bin", lambda file: file.write(b"data"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.bin").stat().st_mode) == 0o640
    assert (tmp_path / "new.bin").read_bytes() == b"data"
    assert _leftovers(tmp_path, {"new.bin"}) == []


def test_replacing_keeps_the_permission_bits(tmp_path: Path) -> None:
    target = tmp_path / "scene.ply"
    save_scene(stored_scene(10, 0), target)
    target.chmod(0o604)
    save_scene(stored_scene(20, 1), target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert load_scene(target).count == 20


@pytest.mark.parametrize("error", [ValueError("bug in a writer"), KeyboardInterrupt()])
def test_failed_write_keeps_the_old_file_and_removes_the_temporary(
    tmp_path: Path, error: BaseException
) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old contents")

    def write(file) -> None:
        file.write(b"half of the new")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, write)
    assert target.read_bytes() == b"old contents"
    assert _leftovers(tmp_path, {"out.bin"}) == []


def test_scene_writer_failure_is_a_scene_error_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "scene.splat"
    save_scene(stored_scene(10, 0), target)
    before = target.read_bytes()

    def fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(SceneError, match=r"cannot write \(No space left on device\)"):
        save_scene(stored_scene(50, 0), target)
    assert target.read_bytes() == before
    assert _leftovers(tmp_path, {"scene.splat"}) == []


def test_writing_through_a_symlink_replaces_its_target(tmp_path: Path) -> None:
    (tmp_path / "real.bin").write_bytes(b"old")
    (tmp_path / "link.bin").symlink_to("real.bin")
    with atomic_output(tmp_path / "link.bin") as file:
        file.write(b"new")
    assert (tmp_path / "link.bin").is_symlink()
    assert (tmp_path / "real.bin").read_bytes() == b"new"


def test_special_targets_are_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.ply")  # opening it would block: it must not be opened
    with pytest.raises(SceneError) as error:
        save_scene(stored_scene(5, 0), tmp_path / "fifo.ply")
    assert error.value.problem == "cannot write (not a regular file, refusing to replace it)"
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo.ply").st_mode)
    (tmp_path / "folder.ply").mkdir()
    with pytest.raises(SceneError, match="is a directory"):
        save_scene(stored_scene(5, 0), tmp_path / "folder.ply")
    assert _leftovers(tmp_path, {"fifo.ply", "folder.ply"}) == []


# The writer process: writes a big scene over `target` and stops (blocks on stdin, having said
# "paused") at the point named by `mode`, so that the test can kill it there with SIGKILL.
CHILD = textwrap.dedent(
    """
    import os
    import sys

    sys.path.insert(0, {tests!r})
    from tests.formats_helpers import stored_scene

    import viewer.formats.files as files
    from viewer.formats import save_scene

    mode, target, scratch = sys.argv[1:4]
    scene = stored_scene({count}, 3, seed=7)


    def pause():
        print("paused", flush=True)
        sys.stdin.read()  # until the parent kills this process


    class Pausing:
        '''A file that stops once `stop_at` bytes have reached the disk.'''

        def __init__(self, file, stop_at):
            self.file, self.stop_at, self.written = file, stop_at, 0

        def write(self, data):
            data = memoryview(data).cast("B")
            if self.written + len(data) >= self.stop_at:
                self.file.write(data[: self.stop_at - self.written])
                self.file.flush()
                pause()
            self.written += self.file.write(data)
            return len(data)

        def __getattr__(self, name):
            return getattr(self.file, name)


    if mode.startswith("write:"):
        save_scene(scene, scratch)
        stop_at = int(float(mode[6:]) * os.path.getsize(scratch))
        real = files.atomic_write
        files.atomic_write = lambda path, write: real(path, lambda f: write(Pausing(f, stop_at)))
    elif mode == "fsync":  # all written, not yet renamed
        os.fsync = lambda fd: pause()
    elif mode == "replace":  # renamed, the folder not yet synced
        real_replace = os.replace
        os.replace = lambda a, b: (real_replace(a, b), pause())
    save_scene(scene, target)
    print("done", flush=True)
    """
)


@pytest.fixture(scope="module")
def scenes(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[bytes, GaussianScene, int]]:
    """suffix -> (bytes of the old file, the new scene as read back from a reference write, the
    size of that write)."""
    folder = tmp_path_factory.mktemp("reference")
    big = stored_scene(BIG_COUNT, 3, seed=7)  # the child's scene
    result = {}
    for suffix in (".ply", ".compressed.ply", ".splat", ".spz"):
        save_scene(stored_scene(OLD_COUNT, 1, seed=1), folder / f"old{suffix}")
        save_scene(big, folder / f"new{suffix}")
        new, size = load_scene(folder / f"new{suffix}"), (folder / f"new{suffix}").stat().st_size
        result[suffix] = ((folder / f"old{suffix}").read_bytes(), new, size)
    return result


KILLS = [
    (".ply", "write:0.0"),
    (".ply", "write:0.3"),
    (".ply", "write:0.999"),
    (".ply", "fsync"),
    (".ply", "replace"),
    (".ply", "none"),
    (".compressed.ply", "write:0.5"),
    (".splat", "write:0.5"),
    (".spz", "write:0.5"),
]


@pytest.mark.parametrize(("suffix", "mode"), KILLS)
def test_kill_9_leaves_the_old_or_the_new_file_whole(
    tmp_path: Path, scenes: dict[str, tuple[bytes, GaussianScene, int]], suffix: str, mode: str
) -> None:
    old_bytes, new_scene, new_size = scenes[suffix]
    target = tmp_path / f"scene{suffix}"
    target.write_bytes(old_bytes)
    old_scene = load_scene(target)
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(TESTS), count=BIG_COUNT))
    env = dict(os.environ, PYTHONPATH=str(TESTS.parent))
    child = subprocess.Popen(
        [sys.executable, str(script), mode, str(target), str(tmp_path / f"scratch{suffix}")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        said = child.stdout.readline().strip()
        if mode == "none":
            assert said == "done", child.stderr.read()
        else:
            assert said == "paused", child.stderr.read()
            seen_meanwhile = load_scene(target)  # a reader while the writer is stopped
            expected = new_scene if mode == "replace" else old_scene
            assert seen_meanwhile.count == expected.count
            os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()
    expect_new = mode in ("replace", "none")
    _assert_same_scene(load_scene(target), new_scene if expect_new else old_scene)
    temporaries = [name for name in _leftovers(tmp_path, set()) if name.endswith(".tmp")]
    if expect_new:
        assert temporaries == []
    else:  # killed before the rename: the partial new file is the hidden temporary
        assert len(temporaries) == 1 and temporaries[0].startswith(f".{target.name}.")
        written = (tmp_path / temporaries[0]).stat().st_size
        if mode.startswith("write:"):  # stopped after that fraction of the file
            full = (tmp_path / f"scratch{suffix}").stat().st_size
            assert written == int(float(mode[6:]) * full)
        else:  # stopped at the fsync: all written
            assert written == new_size
