"""Bench --config / --sweep parsing: values through each setting's description, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from viewer.bench.configs import (
    BENCH_GROUPS,
    DEFAULT_CONFIG,
    check_configs,
    config_keys,
    load_sweep,
    parse_config,
)
from viewer.cli import main
from viewer.errors import EXIT_BAD_INPUT
from viewer.setting_specs import specs
from viewer.settings import RasterSettings, RenderSettings

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_values_of_every_kind_reach_their_settings_group() -> None:
    config = parse_config("fast:backend=tiles,sh_degree=1,background=1,0.5,0,antialias=on")
    assert config.name == "fast"
    assert config.raster == RasterSettings(backend="tiles")
    assert config.render == RenderSettings(sh_degree=1, background=(1.0, 0.5, 0.0), antialias=True)
    assert config.overrides == {
        "backend": "tiles",
        "sh_degree": "1",
        "background": "1,0.5,0",
        "antialias": "on",
    }
    assert config.to_json()["render"]["background"] == (1.0, 0.5, 0.0)


def test_a_bare_name_keeps_every_default() -> None:
    config = parse_config("base")
    assert (config.render, config.raster, config.overrides) == (
        RenderSettings(),
        RasterSettings(),
        {},
    )


def test_every_setting_has_a_qualified_key_and_bare_ones_where_unambiguous() -> None:
    keys = config_keys()
    for group in BENCH_GROUPS:
        assert {f"{group.name}.{s.name}" for s in specs(group.cls)} <= set(keys)
    assert "splat_scale" in keys and "render.splat_scale" in keys
    qualified = parse_config("a:render.sh_degree=1,raster.sort=cpu,prune.keep=0.5")
    assert qualified.render.sh_degree == 1 and qualified.raster.sort == "cpu"
    assert qualified.prune.keep == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a:foo=1", "unknown key 'foo'"),
        ("a:sh_degree=x", "sh_degree: 'x' is not a valid int"),
        ("a:sh_degree=7", "sh_degree: 7 is outside [0, 3]"),
        ("a:backend=cuda", "backend: 'cuda' is not one of auto, quads, tiles"),
        ("a:background=1,1", "background: '1,1' is not a valid comma-separated list of 3"),
        ("a:sh_degree=1,sh_degree=2", "repeated key"),
        ("a:=1", "empty or repeated key"),
        ("a:1", "expected key=value"),
        ("bad/name:sh_degree=1", "the name must be"),
        (":sh_degree=1", "the name must be"),
    ],
)
def test_bad_configs_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match="config") as caught:
        parse_config(text)
    assert message in str(caught.value)


def test_a_preset_sets_its_keys_and_the_config_overrides_them() -> None:
    config = parse_config("b:preset=balanced,keep=0.5,fov.fovea=12")
    assert config.lod.enabled and config.fov.enabled and config.prune.score == "significance"
    assert config.prune.keep == 0.5 and config.fov.fovea == 12.0
    assert config.fov.shares == (1.0, 0.6, 0.4, 0.3)
    with pytest.raises(ValueError, match="'fast' is not one of balanced"):
        parse_config("b:preset=fast")


def test_keys_take_the_flags_spelling_and_typos_get_the_closest_keys() -> None:
    assert parse_config("a:fov.gaze-x=0.2,band-blend=1").fov.gaze_x == 0.2
    with pytest.raises(ValueError, match=r"did you mean fov\.enabled or"):
        parse_config("a:fov.enable=1")


def test_unknown_key_error_lists_the_known_keys() -> None:
    with pytest.raises(ValueError) as caught:
        parse_config("a:lod=1")
    for key in ("sh_degree", "backend", "splat_scale"):
        assert key in str(caught.value)


def test_default_config_and_duplicate_names() -> None:
    (default,) = check_configs([])
    assert default.name == DEFAULT_CONFIG and default.raster == RasterSettings()
    with pytest.raises(ValueError, match="'a' is used twice"):
        check_configs([parse_config("a"), parse_config("b"), parse_config("a:sh_degree=0")])


def test_sweep_files_hold_json_values(tmp_path: Path) -> None:
    path = tmp_path / "sweep.json"
    sweep = {"sh1": {"sh_degree": 1, "background": [1, 1, 1]}, "aa": {"antialias": True}}
    path.write_text(json.dumps({"description": "test", "configs": sweep}))
    sh1, aa = load_sweep(path)
    assert sh1.name == "sh1" and sh1.render.background == (1.0, 1.0, 1.0)
    assert sh1.render.sh_degree == 1 and aa.render.antialias is True


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not a sweep file (Expecting property name enclosed in double quotes at line 1)"),
        ('{"configs": []}', 'not a sweep file (expected {"configs": {NAME: {key: value}}})'),
        ('{"configs": {"a": 1}}', 'not a sweep file (expected {"configs"'),
        (None, "no such file"),
        ('{"configs": {"a": {"nope": 1}}}', "unknown key 'nope'"),
    ],
)
def test_bad_sweep_files_name_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=r"bad\.json") as caught:
        load_sweep(path)
    assert message in str(caught.value)


MEASURED = ("fov.json",)  # numbers written by scripts/fov_sweep.py, not sweeps


@pytest.mark.parametrize(
    "path",
    sorted(p for p in BENCHMARKS.glob("*.json") if p.name not in MEASURED),
    ids=lambda p: p.name,
)
def test_checked_in_sweeps_load(path: Path) -> None:
    configs = check_configs(load_sweep(path))
    assert len(configs) >= 2


def test_cli_exits_2_naming_the_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["bench", "no-scene.ply", "--out", str(tmp_path), "--config", "a", "b:foveation=0.5"]
    assert main(args) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "splatscope: error:" in err and "unknown key 'foveation'" in err
    assert not any(tmp_path.iterdir())


def test_cli_rejects_bad_counts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--out", str(tmp_path), "--frames", "0"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--frames: 0 is below the minimum 1" in err and len(err.strip().splitlines()) == 1
