"""The settings registry: namespaced keys for the CLI, the bench and the panel, from one table."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from viewer import setting_specs, settings
from viewer.setting_specs import SettingsSet, add_arguments, apply_overrides, from_arguments
from viewer.settings import (
    GROUPS,
    PruneSettings,
    RenderSettings,
    SettingsGroup,
    setting,
)


@dataclasses.dataclass(frozen=True)
class ThresholdLike:
    """A group that shares a field name with pruning."""

    threshold: float = setting(2.0, "a pixel threshold", range=(0.0, 100.0))
    ceiling: int = setting(0, "splats at most", range=(0, 10**9))


@pytest.fixture
def two_thresholds(monkeypatch):
    """GROUPS with a second group owning a `threshold` setting, offered by `view` and the bench."""
    groups = (*GROUPS, SettingsGroup("extra", ThresholdLike, "Extra", ("view",), bench=True))
    monkeypatch.setattr(settings, "GROUPS", groups)
    monkeypatch.setattr(setting_specs, "GROUPS", groups)
    return groups


def test_every_group_is_one_row_with_a_unique_name_and_dataclass() -> None:
    assert len({g.name for g in GROUPS}) == len({g.cls for g in GROUPS}) == len(GROUPS)
    values = SettingsSet()
    assert {name: type(value) for name, value in values.items()} == {g.name: g.cls for g in GROUPS}
    assert values.of(RenderSettings) == RenderSettings()


def test_settings_sets_are_immutable_values() -> None:
    base = SettingsSet()
    edited = base.changed("render", sh_degree=1)
    assert base.of(RenderSettings).sh_degree == 3 and edited.of(RenderSettings).sh_degree == 1
    assert edited == SettingsSet().replaced(RenderSettings(sh_degree=1))
    assert hash(edited) == hash(SettingsSet().replaced(RenderSettings(sh_degree=1)))
    assert edited != base
    with pytest.raises(TypeError, match="needs a RenderSettings"):
        SettingsSet({"render": PruneSettings()})
    with pytest.raises(ValueError, match="unknown settings groups"):
        SettingsSet({"nope": PruneSettings()})


def test_two_groups_may_own_the_same_name(two_thresholds) -> None:
    bench_groups = [g for g in two_thresholds if g.bench]
    both = apply_overrides(
        SettingsSet(), {"extra.threshold": "5", "prune.threshold": "0.25"}, bench_groups
    )
    assert both["extra"].threshold == 5.0 and both.of(PruneSettings).threshold == 0.25
    with pytest.raises(ValueError, match=r"ambiguous: use prune\.threshold or extra\.threshold"):
        apply_overrides(SettingsSet(), {"threshold": "1"}, bench_groups)
    bare = apply_overrides(SettingsSet(), {"ceiling": "7", "keep": "0.5"}, bench_groups)
    assert bare["extra"].ceiling == 7 and bare.of(PruneSettings).keep == 0.5


def test_cli_flags_are_namespaced_and_bare_ones_refused_where_ambiguous(two_thresholds) -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, "view")
    args = parser.parse_args(
        ["--extra.threshold", "3", "--prune.threshold", "0.5", "--keep", "0.4"]
    )
    values = from_arguments(args, "view")
    assert values["extra"].threshold == 3.0
    assert values.of(PruneSettings) == PruneSettings(threshold=0.5, keep=0.4)
    with pytest.raises(ValueError, match=r"--threshold is ambiguous: use --prune.threshold or"):
        parser.parse_args(["--threshold", "1"])
    assert parser.parse_args(["--sh-degree", "1"]).__dict__["render.sh_degree"] == 1
    assert parser.parse_args(["--render.sh-degree", "2"]).__dict__["render.sh_degree"] == 2


def test_commands_offer_only_their_groups() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser, "render")
    options = {o for action in parser._actions for o in action.option_strings}
    assert "--render.sh-degree" in options and "--raster.backend" in options
    assert any(o.startswith("--prune.") for o in options)  # render prunes as view does
    assert not any(o.startswith(("--train.", "--capture.", "--display.")) for o in options)


@pytest.mark.parametrize("command", ["view", "render", "info", "convert", "prune", "bench"])
def test_every_command_prints_its_help(command, capsys) -> None:
    from viewer.cli import main

    assert main([command, "--help"]) == 0
    assert "usage: splatscope" in capsys.readouterr().out


def test_any_lod_key_enables_it_and_a_threshold_budget_or_frame_rate_alone_picks_its_cut() -> None:
    from viewer.settings import LodSettings

    bench = [g for g in GROUPS if g.bench]
    for key, cut in (
        ("lod.tau", "tau"),
        ("lod.budget", "budget"),
        ("lod.target_fps", "target_fps"),
    ):
        value = "2" if key != "lod.budget" else "200000"
        lod = apply_overrides(SettingsSet(), {key: value}, bench).of(LodSettings)
        assert lod.enabled and lod.cut == cut
    explicit = apply_overrides(SettingsSet(), {"lod.budget": "9", "lod.cut": "tau"}, bench)
    assert explicit.of(LodSettings).cut == "tau" and explicit.of(LodSettings).enabled
    blend = apply_overrides(SettingsSet(), {"lod.blend": "false"}, bench).of(LodSettings)
    assert blend.enabled and blend.cut == "tau"
    with pytest.raises(ValueError, match=r"tau and budget given: choose the cut with lod\.cut"):
        apply_overrides(SettingsSet(), {"lod.tau": "3", "lod.budget": "9"}, bench)
    off = apply_overrides(SettingsSet(), {"lod.tau": "3", "lod.enabled": "false"}, bench)
    assert not off.of(LodSettings).enabled
    parser = argparse.ArgumentParser()
    add_arguments(parser, "render")
    lod = from_arguments(parser.parse_args(["--lod.budget", "5000"]), "render").of(LodSettings)
    assert lod == LodSettings(enabled=True, cut="budget", budget=5000)
    assert from_arguments(parser.parse_args([]), "render").of(LodSettings) == LodSettings()


def test_any_fov_key_enables_it_and_shares_stay_nested() -> None:
    from viewer.settings import FoveationSettings

    bench = [g for g in GROUPS if g.bench]
    for key, value in (("fov.outline", "on"), ("fov.fovea", "12"), ("fov.source", "lod")):
        fov = apply_overrides(SettingsSet(), {key: value}, bench).of(FoveationSettings)
        assert fov.enabled, key
    fixed = apply_overrides(SettingsSet(), {"fov.gaze_x": "0.2"}, bench).of(FoveationSettings)
    assert fixed.gaze == "fixed"
    for shares in ("0.5,0.4,0.2,0.1", "1,0.4,0.5,0.2"):
        with pytest.raises(ValueError, match=r"must start at 1 .* and not grow"):
            apply_overrides(SettingsSet(), {"fov.shares": shares}, bench)
