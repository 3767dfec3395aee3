"""Bench configurations: `NAME:key=value,key=value` applied to the settings dataclasses.

Each key is a field of one settings dataclass in `CONFIG_SETTINGS` and is parsed by that field's
one description (`viewer.setting_specs`). A feature with its own settings dataclass joins the bench
by adding one entry to the table.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from viewer.setting_specs import apply_overrides, specs
from viewer.settings import RasterSettings, RenderSettings

CONFIG_SETTINGS: dict[str, type] = {"render": RenderSettings, "raster": RasterSettings}
NAME = re.compile(r"[A-Za-z0-9_.+-]+")
DEFAULT_CONFIG = "auto"


@dataclass(frozen=True)
class BenchConfig:
    """A named set of settings, one instance per `CONFIG_SETTINGS` entry.

    Attributes:
        name: label used in the report, the CSV and file names.
        settings: settings dataclass instances by group ("render", "raster", ...).
        overrides: the key=value texts the user gave.
    """

    name: str
    settings: dict[str, Any]
    overrides: dict[str, str]

    @property
    def render(self) -> RenderSettings:
        """The render settings."""
        return self.settings["render"]

    @property
    def raster(self) -> RasterSettings:
        """The raster settings."""
        return self.settings["raster"]

    def to_json(self) -> dict[str, dict[str, Any]]:
        """Every setting's value by group, JSON-ready."""
        return {group: dataclasses.asdict(value) for group, value in self.settings.items()}


def config_keys() -> dict[str, str]:
    """Every config key and the settings group that owns it."""
    return {s.name: group for group, cls in CONFIG_SETTINGS.items() for s in specs(cls)}


def parse_config(text: str) -> BenchConfig:
    """A config from `NAME` or `NAME:key=value,key=value` (a value may hold commas: 1,1,1).

    Raises:
        ValueError: naming the config and the bad name, key or value.
    """
    name, _, body = text.partition(":")
    if not NAME.fullmatch(name):
        raise ValueError(f"config {text!r}: the name must be letters, digits, '_', '-', '.', '+'")
    overrides = _assignments(body, name)
    keys = config_keys()
    for key in overrides:
        if key not in keys:
            known = ", ".join(sorted(keys))
            raise ValueError(f"config {name!r}: unknown key {key!r} (known keys: {known})")
    try:
        settings = {
            group: apply_overrides(cls(), overrides) for group, cls in CONFIG_SETTINGS.items()
        }
    except ValueError as exc:
        raise ValueError(f"config {name!r}: {exc}") from None
    return BenchConfig(name, settings, overrides)


def parse_configs(texts: list[str] | None) -> list[BenchConfig]:
    """The configs to compare, in order; the default settings alone when none are given.

    Raises:
        ValueError: on a bad config or two configs with the same name.
    """
    configs = [parse_config(text) for text in texts or [DEFAULT_CONFIG]]
    names = [c.name for c in configs]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"config name {name!r} is used twice")
    return configs


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
