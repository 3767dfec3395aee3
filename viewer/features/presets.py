"""Named presets: sets of settings keys applied in one go (panel button, bench `preset=NAME`).

`balanced` combines level of detail (merged Gaussians outside the fovea), foveation (nested
subsets gentler than RTGS's 1, 0.4, 0.22, 0.17, which drop whole objects of a scene trained
without them) and pruning (5 %: more costs the built-in scene's fovea) for faster frames with
the fovea kept sharp; README, "Foveation: measured" has what it costs and saves.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from viewer.setting_specs import SettingsSet, apply_overrides
from viewer.settings import SettingsGroup

PRESETS: dict[str, dict[str, str]] = {
    "balanced": {
        "lod.enabled": "true",
        "lod.cut": "tau",
        "lod.tau": "2",
        "fov.enabled": "true",
        "fov.source": "subsets",
        "fov.mapping": "bands",
        "fov.fovea": "10",
        "fov.bands": "8,8",
        "fov.band_blend": "3",
        "fov.shares": "1,0.6,0.4,0.3",
        "fov.subset_score": "significance",
        "prune.score": "significance",
        "prune.keep": "0.95",
    },
}


def preset_keys(name: str) -> dict[str, str]:
    """The settings keys (qualified) and value texts of preset `name`.

    Raises:
        ValueError: for an unknown preset, naming the known ones.
    """
    if name not in PRESETS:
        raise ValueError(f"preset: {name!r} is not one of {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def preset_of(args: argparse.Namespace) -> dict[str, str] | None:
    """The keys of the preset a command line names with `--preset`, or None."""
    name = getattr(args, "preset", None)
    return preset_keys(name) if name else None


def with_preset(settings: SettingsSet, name: str, groups: Iterable[SettingsGroup]) -> SettingsSet:
    """`settings` with the keys of preset `name` set (among `groups`), what they imply too."""
    return apply_overrides(settings, preset_keys(name), groups)
