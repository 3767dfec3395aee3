"""The hostile-input corpus (tests/hostile_corpus.py) through the commands a user runs, each
case in one child process with its address space limited: every run ends in one
`splatscope: error:` line naming the damaged file, exit code 2, no traceback and no output (or
succeeds, for a damage that can leave a valid input), and none hangs (each case has an alarm) or
takes more memory than the limit allows.

Here: every damaged scene through `info`, the damaged training datasets of #23 item 10 (a table:
every damaged JSON field, image, points file and COLMAP file), and a seeded sample of the rest
(scenes through render and convert, camera files, camera paths, sweeps, checkpoints).
scripts/hostile_corpus.py runs all of it. The readers' in-process fuzzing (hypothesis) is in
test_formats_fuzz.py.
"""

from __future__ import annotations

import numpy as np

from tests.hostile_corpus import (
    Case,
    checkpoint_cases,
    dataset_cases,
    json_cases,
    problem,
    run_cases,
    scene_cases,
)

SEED = 2026
SAMPLE = {"scene": 12, "camera": 12, "path": 6, "sweep": 6, "checkpoint": 6}


def problems(cases: list[Case], tmp_path) -> tuple[list[str], int]:
    """('label: what is wrong' of every case that broke the promise, how many succeeded)."""
    results = run_cases(cases, env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    found = []
    for case, (code, stderr, _) in zip(cases, results, strict=True):
        wrong = problem(case, code, stderr)
        if wrong is not None:
            found.append(f"{case.label}: {wrong}: {code} {stderr.strip()[-300:]}")
    return found, sum(1 for code, _, _ in results if code == 0)


def sample(cases: list[Case], rng: np.random.Generator) -> list[Case]:
    """SAMPLE[kind] cases of each kind (seeded), special files always."""
    chosen = []
    for kind, count in SAMPLE.items():
        of_kind = [c for c in cases if c.kind == kind]
        special = [c for c in of_kind if c.label.split("/")[-1] in ("fifo", "devzero", "folder")]
        rest = [c for c in of_kind if c not in special]
        picks = rng.choice(len(rest), size=min(count, len(rest)), replace=False)
        chosen += special + [rest[int(i)] for i in sorted(picks)]
    return chosen


def test_every_bad_scene_file_is_one_line_exit_2_no_traceback_in_bounded_memory(tmp_path):
    cases = scene_cases(tmp_path, np.random.default_rng(SEED), ("info",))
    assert len(cases) > 100
    found, loaded = problems(cases, tmp_path)
    assert found == []
    assert loaded < len(cases) // 4  # most of the corpus is really broken


def test_every_damaged_training_dataset_is_one_line_and_writes_nothing(tmp_path):
    # #23 item 10: transforms.json fields of the wrong type or range, images that are bombs,
    # truncated or special, points3d.ply truncated, huge, NaN or /dev/zero, COLMAP cameras of
    # size 0, ... ('out' of each case must not exist afterwards)
    cases = dataset_cases(tmp_path, np.random.default_rng(SEED))
    assert len(cases) > 150
    labels = {case.label for case in cases}
    for expected in ("dataset/nerf/transforms_train.json/camera_angle_x=0",
                     "dataset/nerf/train/r_0.png/bomb-30000x30000",
                     "dataset/nerf/points3d.ply/devzero", "dataset/colmap-bin/cameras.bin-width-0",
                     "dataset/nerf-8x8/train/r_0.png/8x8"):  # fmt: skip
        assert expected in labels
    found, loaded = problems(cases, tmp_path)
    assert found == []
    assert loaded < len(cases) // 4


def test_a_seeded_sample_of_every_other_kind(tmp_path):
    rng = np.random.default_rng(SEED)
    cases = [
        *scene_cases(tmp_path / "scenes", rng, ("render", "convert")),
        *json_cases(tmp_path / "json", rng),
        *checkpoint_cases(tmp_path / "checkpoints", rng),
    ]
    chosen = sample(cases, rng)
    assert {case.kind for case in chosen} == set(SAMPLE)
    assert problems(chosen, tmp_path)[0] == []
