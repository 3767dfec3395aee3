"""Nothing lost: no output replaces an input (one identity check for every writer), a bench run's
folder is replaced whole or not at all, and temporary files never pile up (SIGTERM cleans up as
Ctrl+C does; a kill -9's leftovers go with the next write into the folder)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import random_scene
from tests.test_hostile_inputs import fails
from viewer.atomic_write import atomic_folder, atomic_output, atomic_write, atomic_write_text
from viewer.cli import main
from viewer.formats import load_scene, save_scene
from viewer.input_files import (
    OutputIsInputError,
    input_named_by,
    read_bytes,
    remember_inputs,
)
from viewer.temp_files import sweep_stale, temp_prefix

REPO = Path(__file__).resolve().parents[1]
TINY_BENCH = ["--frames", "2", "--warmup", "0", "--width", "32", "--height", "32", "--no-quality"]


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    """A 200-Gaussian SH-1 scene as an INRIA .ply."""
    path = tmp_path / "scene.ply"
    save_scene(random_scene(np.random.default_rng(5), 200, sh_degree=1), path)
    return path


def _temporaries(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if ".splatscope-" in name)


# -- 1. one identity check -----------------------------------------------------------------------


def test_an_input_is_recognised_under_every_name(tmp_path: Path) -> None:
    source = tmp_path / "a.ply"
    source.write_bytes(b"a")
    (tmp_path / "b.ply").write_bytes(b"a")
    os.link(source, tmp_path / "hard.ply")
    (tmp_path / "soft.ply").symlink_to(source)
    (tmp_path / "sub").mkdir()
    read_bytes(source)
    for alias in ("a.ply", "hard.ply", "soft.ply", "sub/../a.ply"):
        assert input_named_by(tmp_path / alias) == str(source), alias
    assert input_named_by(tmp_path / "b.ply") is None  # same bytes, another file
    assert input_named_by(tmp_path / "missing.ply") is None


def test_an_input_replaced_since_is_forgotten(tmp_path: Path) -> None:
    source = tmp_path / "a.ply"
    source.write_bytes(b"a")
    remember_inputs(source)
    os.link(source, tmp_path / "old.ply")
    source.unlink()
    source.write_bytes(b"new")  # the input's name is another file now: the link is no input
    assert input_named_by(tmp_path / "old.ply") is None
    atomic_write_text(tmp_path / "old.ply", "written")


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink"])
def test_no_writer_replaces_an_input(tmp_path: Path, how: str) -> None:
    source = tmp_path / "scene.bin"
    source.write_bytes(b"the scene")
    read_bytes(source)
    target = {"same path": source, "hard link": tmp_path / "hard", "symlink": tmp_path / "soft"}
    if how == "hard link":
        os.link(source, target[how])
    elif how == "symlink":
        target[how].symlink_to(source)
    with pytest.raises(OutputIsInputError, match=r"is the input file .*refusing to overwrite it"):
        atomic_write(target[how], lambda file: file.write(b"lost"))
    assert source.read_bytes() == b"the scene"
    assert _temporaries(tmp_path) == []


def test_a_link_to_an_input_made_during_the_write_is_refused_at_the_rename(tmp_path: Path) -> None:
    source = tmp_path / "scene.bin"
    source.write_bytes(b"the scene")
    read_bytes(source)
    target = tmp_path / "out.bin"
    with pytest.raises(OutputIsInputError), atomic_output(target) as file:
        file.write(b"lost")
        os.link(source, target)
    assert source.read_bytes() == b"the scene"
    assert _temporaries(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "link"),
    [
        ("frames.csv", "hard link"),
        ("frames.csv", "symlink"),
        ("report.json", "hard link"),
        ("report.json", "symlink"),
        ("passes.png", "hard link"),  # a plot
        ("worst/auto_frame0000_render.png", "hard link"),
    ],
)
def test_bench_refuses_a_folder_holding_its_scene(capsys, tmp_path, scene, name, link):
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True)
    if link == "hard link":
        os.link(scene, out / name)
    else:
        (out / name).symlink_to(scene)
    before = scene.read_bytes()
    line = fails(capsys, "bench", str(scene), "--out", str(out), *TINY_BENCH)
    assert "is the input file" in line and name in line
    assert scene.read_bytes() == before


def test_bench_refuses_a_scene_that_is_a_file_of_its_folder(capsys, tmp_path, scene):
    out = tmp_path / "out"
    out.mkdir()
    inside = out / "frames.csv"
    os.replace(scene, inside)
    before = inside.read_bytes()
    fails(capsys, "bench", str(inside), "--out", str(out), *TINY_BENCH,
          fragments=("is the input file",))  # fmt: skip
    assert inside.read_bytes() == before


def test_a_score_cache_beside_the_scene_that_links_to_it_is_not_written(
    capsys, tmp_path, scene, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "scene.ply.scores.npz").symlink_to(scene.name)
    before = scene.read_bytes()
    args = ["prune", str(scene), "--score-cache", "beside", "--keep", "0.5"]
    assert main([*args, "--prune.views", "2", "--out", str(tmp_path / "pruned.ply")]) == 0
    assert scene.read_bytes() == before
    assert load_scene(scene).count == 200
    assert len(list((tmp_path / "cache" / "splatscope" / "scores").glob("*.npz"))) == 1


def test_render_and_convert_refuse_an_output_linked_to_the_scene(capsys, tmp_path, scene):
    (tmp_path / "x.png").symlink_to(scene)
    os.link(scene, tmp_path / "y.spz")
    fails(capsys, "render", str(scene), "--out", str(tmp_path / "x.png"),
          fragments=("is the input file",))  # fmt: skip
    fails(capsys, "convert", str(scene), str(tmp_path / "y.spz"),
          fragments=("is the input file",))  # fmt: skip


# -- 2. a bench run is one unit ------------------------------------------------------------------


def test_a_bench_run_replaces_its_folder_whole(capsys, tmp_path, scene):
    out = tmp_path / "out"
    assert main(["bench", str(scene), "--out", str(out), *TINY_BENCH]) == 0
    first = sorted(os.listdir(out))
    assert {"report.json", "frames.csv", "frame_times.png"} <= set(first)
    (out / "worst").mkdir()
    (out / "worst" / "old_frame0001_render.png").write_bytes(b"an earlier run's")
    assert main(["bench", str(scene), "--out", str(out), *TINY_BENCH]) == 0
    assert sorted(os.listdir(out)) == first  # the earlier run's worst/ went with it
    assert _temporaries(tmp_path) == []


def test_a_bench_refuses_a_folder_holding_other_files(capsys, tmp_path, scene):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.json").write_text("{}")
    line = fails(capsys, "bench", str(scene), "--out", str(out), *TINY_BENCH)
    assert "holds files a bench does not write (notes.txt)" in line
    assert (out / "notes.txt").read_text() == "mine"


def test_a_bench_stopped_while_writing_leaves_the_earlier_run(capsys, tmp_path, scene, monkeypatch):
    out = tmp_path / "out"
    assert main(["bench", str(scene), "--out", str(out), *TINY_BENCH]) == 0
    before = {name: (out / name).read_bytes() for name in os.listdir(out)}

    def stopped(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr("viewer.bench.plots.write_plots", stopped)
    assert main(["bench", str(scene), "--out", str(out), *TINY_BENCH]) == 130
    assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before
    assert _temporaries(tmp_path) == []


def test_atomic_folder_swaps_without_renameat2_too(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("old")
    monkeypatch.setattr("viewer.atomic_write.ctypes.CDLL", lambda *a, **k: object())
    with atomic_folder(out, lambda _old: None) as folder:
        (folder / "new").write_text("new")
    assert os.listdir(out) == ["new"]
    assert _temporaries(tmp_path) == []


def test_atomic_folder_keeps_a_folder_its_check_refuses(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("keep")

    def refuse(_old: Path) -> None:
        raise ValueError("not ours")

    with pytest.raises(ValueError, match="not ours"), atomic_folder(out, refuse) as folder:
        (folder / "new").write_text("new")
    assert os.listdir(out) == ["keep"]
    assert _temporaries(tmp_path) == []


# -- 3. temporary files do not pile up -----------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_names_are_recognisable_and_stale_ones_are_swept(tmp_path: Path) -> None:
    target = tmp_path / ("x" * 250 + ".ply")  # a long name still leaves room for the rest
    prefix = temp_prefix(target)  # .<name>.splatscope-<host>-<pid>-
    host = prefix.split(".splatscope-")[1].split("-")[0]
    short = f".{target.name[:20]}.splatscope-"
    dead = f"{short}{host}-{_dead_pid()}-"
    alive = f"{short}{host}-{os.getppid()}-"
    other_host = f"{short}{'0' * 8}-{_dead_pid()}-"
    names = {
        f"{dead}abc.tmp": False,  # a killed writer's file: swept
        f"{alive}abc.tmp": True,  # a live process's write
        f"{prefix}abc.tmp": True,  # this process's own
        f"{other_host}abc.tmp": True,  # another machine's, on a shared folder
        ".x.ply.abc.tmp": True,  # not our pattern
    }
    for name in names:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / f"{dead}dir.tmp").mkdir()  # a killed bench's folder
    (tmp_path / f"{dead}dir.tmp" / "report.json").write_text("{}")
    atomic_write_text(target, "new")  # the next write into the folder sweeps
    left = set(os.listdir(tmp_path))
    assert {name for name, kept in names.items() if kept} | {target.name} == left
    assert sweep_stale(tmp_path) == []  # once per folder and process


CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from viewer.atomic_write import atomic_output
    from viewer.temp_files import termination_signals_interrupt

    where, target = sys.argv[1:3]

    def write():
        with atomic_output(target) as file:
            file.write(b"half")
            print("writing", flush=True)
            time.sleep(60)

    with termination_signals_interrupt():
        try:
            if where == "thread":
                threading.Thread(target=write, daemon=True).start()
                time.sleep(60)
            else:
                write()
        except KeyboardInterrupt:
            sys.exit(143)
    """
)


@pytest.mark.parametrize(
    ("where", "how"),
    [("main", signal.SIGTERM), ("thread", signal.SIGTERM), ("main", signal.SIGKILL)],
)
def test_a_stopped_writer_leaves_no_temporary(tmp_path, where, how):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, where, str(target)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        assert child.stdout.readline().strip() == "writing"
        assert len(_temporaries(tmp_path)) == 1
        child.send_signal(how)
        code = child.wait(timeout=60)
    finally:
        child.kill()
    assert target.read_bytes() == b"old"
    if how == signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert len(_temporaries(tmp_path)) == 1  # nobody could remove it ...
        atomic_write_text(tmp_path / "next.txt", "x")  # ... until the next write here
    else:
        assert code == 143
    assert _temporaries(tmp_path) == []


def test_splatscope_stopped_by_sigterm_exits_143_and_cleans_up(tmp_path, scene):
    """A whole command, stopped while it writes its output."""
    script = textwrap.dedent(
        """
        import sys, time
        import viewer.image_files as image_files
        from viewer.cli import main

        real = image_files.atomic_write

        def slow(path, write):
            def pausing(file):
                write(file)
                print("writing", flush=True)
                time.sleep(60)
            real(path, pausing)

        image_files.atomic_write = slow
        sys.exit(main(sys.argv[1:]))
        """
    )
    out = tmp_path / "out.png"
    child = subprocess.Popen(
        [sys.executable, "-c", script, "render", str(scene), "--out", str(out),
         "--width", "16", "--height", "16"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "EGL_PLATFORM": "surfaceless"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while child.stdout.readline().strip() != "writing":
            assert time.monotonic() < deadline and child.poll() is None, child.stderr.read()
        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=60)
    finally:
        child.kill()
    assert code == 143
    assert not out.exists()
    assert _temporaries(tmp_path) == []
