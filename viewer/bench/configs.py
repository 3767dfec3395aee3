"""Bench configurations: `NAME:key=value,key=value` applied to the settings groups.

Each key names a setting of a group marked `bench` in `viewer.settings.GROUPS`, as `group.name`
(`prune.keep`) or its bare name where no other bench group has it (`keep`), and is parsed by that
setting's one description (`viewer.setting_specs`). Shorthand keys stand for several:
`prune=significance:0.3` is `prune.score=significance,prune.keep=0.3`; `preset=balanced` is the
keys of that preset (viewer/features/presets.py), which other keys of the config may override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from viewer.features.foveation import check_source
from viewer.features.presets import preset_keys
from viewer.features.pruning import parse_shorthand
from viewer.input_files import read_json
from viewer.setting_specs import SettingsSet, apply_overrides, known_keys, resolve_key
from viewer.settings import (
    GROUPS,
    FoveationSettings,
    LodSettings,
    PruneSettings,
    RasterSettings,
    RenderSettings,
)

BENCH_GROUPS = tuple(group for group in GROUPS if group.bench)
SHORTHANDS = {"prune": parse_shorthand}  # key -> its value's text to {key: value text}
PRESET_KEY = "preset"  # preset=NAME: that preset's keys, under the config's own
NAME = re.compile(r"[A-Za-z0-9_.+-]+")
DEFAULT_CONFIG = "auto"


@dataclass(frozen=True)
class BenchConfig:
    """A named set of settings.

    Attributes:
        name: label used in the report, the CSV and file names.
        settings: one value of every settings group.
        overrides: the key=value texts the user gave.
    """

    name: str
    settings: SettingsSet
    overrides: dict[str, str]

    @property
    def render(self) -> RenderSettings:
        """The render settings."""
        return self.settings.of(RenderSettings)

    @property
    def raster(self) -> RasterSettings:
        """The raster settings."""
        return self.settings.of(RasterSettings)

    @property
    def prune(self) -> PruneSettings:
        """The pruning settings."""
        return self.settings.of(PruneSettings)

    @property
    def lod(self) -> LodSettings:
        """The level-of-detail settings."""
        return self.settings.of(LodSettings)

    @property
    def fov(self) -> FoveationSettings:
        """The foveation settings."""
        return self.settings.of(FoveationSettings)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """Every bench setting's value by group, JSON-ready."""
        return self.settings.to_json(group.name for group in BENCH_GROUPS)


def config_keys() -> list[str]:
    """Every key a config may set (qualified, and bare where unambiguous)."""
    return known_keys(BENCH_GROUPS)


def make_config(name: str, overrides: dict[str, str]) -> BenchConfig:
    """A config named `name` with the settings keys in `overrides` set from their text.

    Raises:
        ValueError: naming the config and the bad name, key or value.
    """
    if not NAME.fullmatch(name):
        raise ValueError(f"config {name!r}: the name must be letters, digits, '_', '-', '.', '+'")
    try:
        overrides = _expand_shorthands(overrides)
    except ValueError as exc:
        raise ValueError(f"config {name!r}: {exc}") from None
    try:
        settings = apply_overrides(SettingsSet(), overrides, BENCH_GROUPS)
        check_source(settings.of(FoveationSettings), settings.of(LodSettings))
    except ValueError as exc:
        raise ValueError(f"config {name!r}: {exc}") from None
    return BenchConfig(name, settings, overrides)


def parse_config(text: str) -> BenchConfig:
    """A config from `NAME` or `NAME:key=value,key=value` (a value may hold commas: 1,1,1).

    Raises:
        ValueError: naming the config and the bad name, key or value.
    """
    name, _, body = text.partition(":")
    return make_config(name, _assignments(body, name))


def load_sweep(path: str | Path) -> list[BenchConfig]:
    """The configs of a sweep file: {"description": text, "configs": {NAME: {key: value}}}.

    Values are JSON numbers, booleans, strings or lists (for tuples such as background).

    Raises:
        ValueError: naming the file when it cannot be read or holds a bad config.
    """
    data = read_json(path, "a sweep file")
    try:
        entries = data["configs"].items()
        return [
            make_config(name, {key: _text(value) for key, value in keys.items()})
            for name, keys in entries
        ]
    except (KeyError, AttributeError, TypeError):
        raise ValueError(
            f'{path}: not a sweep file (expected {{"configs": {{NAME: {{key: value}}}}}})'
        ) from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def check_configs(configs: list[BenchConfig]) -> list[BenchConfig]:
    """The configs to compare, in order; the default settings alone when there are none.

    Raises:
        ValueError: when two configs have the same name.
    """
    configs = configs or [make_config(DEFAULT_CONFIG, {})]
    names = [c.name for c in configs]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"config name {name!r} is used twice")
    return configs


def _expand_shorthands(overrides: dict[str, str]) -> dict[str, str]:
    """`overrides` with each shorthand key replaced by the keys it stands for.

    A preset's keys come first; the config's own keys (shorthands expanded) replace those of
    the preset they name.
    """
    out: dict[str, str] = {}
    preset = overrides.get(PRESET_KEY)
    for key, value in overrides.items():
        if key == PRESET_KEY:
            continue
        expanded = SHORTHANDS[key](value) if key in SHORTHANDS else {key: value}
        for k, v in expanded.items():
            if k in out:
                raise ValueError(f"key {k!r} given twice (directly and by a shorthand)")
            out[k] = v
    if preset is None:
        return out
    mine = {_qualified(key) for key in out}
    under = {k: v for k, v in preset_keys(preset).items() if k not in mine}
    return {**under, **out}


def _qualified(key: str) -> str:
    """`group.name` of a config key (the key itself when it names no setting: checked later)."""
    try:
        group, spec = resolve_key(key, BENCH_GROUPS)
    except ValueError:
        return key
    return f"{group}.{spec.name}"


def _text(value: Any) -> str:
    """The text form of a JSON value, as a command line would give it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _assignments(body: str, name: str) -> dict[str, str]:
    """{key: value text} from "k=v,k=v"; a part without '=' continues the previous value."""
    out: dict[str, str] = {}
    key = ""
    for part in body.split(",") if body else []:
        if "=" in part:
            key, value = (s.strip() for s in part.split("=", 1))
            if not key or key in out:
                raise ValueError(f"config {name!r}: empty or repeated key in {part!r}")
            out[key] = value
        elif key:
            out[key] += "," + part.strip()
        else:
            raise ValueError(f"config {name!r}: expected key=value, got {part!r}")
    return out
