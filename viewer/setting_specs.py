"""One description per setting drives the CLI flags, the bench config keys and the UI widgets.

The description is the dataclass field's metadata (`viewer.settings.setting`); the groups are the
rows of `viewer.settings.GROUPS`. A setting's key is `group.name` (`prune.threshold`); its bare
name (`threshold`) is accepted too wherever it names one setting only among the groups in reach
(a command's flags, the bench's groups), and refused with the qualified choices where it is
ambiguous.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from viewer.settings import GROUPS, SettingsGroup

T = TypeVar("T")


@dataclass(frozen=True)
class SettingSpec:
    """A setting's name, type, default and description."""

    name: str
    kind: type
    default: Any
    help: str
    unit: str
    range: tuple[float, float] | None
    choices: tuple[str, ...] | None

    @property
    def flag(self) -> str:
        """The bare CLI flag, e.g. --sh-degree."""
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        """A value from its text form ("3", "0.5", "true", "quads", "1,1,1").

        Raises:
            ValueError: with the setting's name, when the text is no valid value.
        """
        value: Any
        try:
            if self.kind is bool:
                lowered = text.strip().lower()
                if lowered not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
                    raise ValueError(text)
                value = lowered in ("1", "true", "on", "yes")
            elif self.kind is tuple:
                value = tuple(float(part) for part in text.split(","))
                if len(value) != len(self.default):
                    raise ValueError(text)
            else:
                value = self.kind(text)
        except ValueError:
            raise ValueError(f"{self.name}: {text!r} is not a valid {self._describe()}") from None
        self.check(value)
        return value

    def check(self, value: Any) -> None:
        """Raise ValueError when `value` is outside the setting's range or choices."""
        numbers = value if isinstance(value, tuple) else (value,)
        if self.kind in (float, tuple) and not all(math.isfinite(v) for v in numbers):
            raise ValueError(f"{self.name}: {value!r} is not a finite number")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
        if self.range is not None:
            lo, hi = self.range
            if any(not lo <= v <= hi for v in numbers):
                raise ValueError(f"{self.name}: {value!r} is outside [{lo}, {hi}]")

    def _describe(self) -> str:
        if self.kind is tuple:
            return f"comma-separated list of {len(self.default)} numbers"
        return self.kind.__name__


@functools.cache
def specs(settings_class: type) -> tuple[SettingSpec, ...]:
    """The setting descriptions of a settings dataclass, in field order.

    Made once per class: the panel reads them every frame, and reading the type hints
    evaluates annotations.
    """
    hints = get_type_hints(settings_class)
    out = []
    for f in dataclasses.fields(settings_class):
        hint = hints[f.name]
        kind = tuple if getattr(hint, "__origin__", None) is tuple else hint
        meta = f.metadata
        out.append(
            SettingSpec(
                f.name, kind, f.default, meta["help"], meta["unit"], meta["range"], meta["choices"]
            )
        )
    return tuple(out)


# -- one value of every group --------------------------------------------------------------------


class SettingsSet(Mapping[str, Any]):
    """One instance of every settings group of `GROUPS`, by group name; immutable and hashable.

    `of(RenderSettings)` gives a group's value typed; `replaced` and `changed` give new sets.
    """

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        given = dict(values or {})
        unknown = set(given) - {g.name for g in GROUPS}
        if unknown:
            raise ValueError(f"unknown settings groups {sorted(unknown)}")
        # defaults made only for the groups not given (each is a dataclass built with checks)
        self._values = {g.name: given[g.name] if g.name in given else g.cls() for g in GROUPS}
        for group in GROUPS:
            if type(self._values[group.name]) is not group.cls:
                raise TypeError(f"settings group {group.name!r} needs a {group.cls.__name__}")

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values.values()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SettingsSet) and self._values == other._values

    def __repr__(self) -> str:
        return f"SettingsSet({self._values!r})"

    def of(self, cls: type[T]) -> T:
        """The value of the group whose dataclass is `cls`."""
        value = self._values[group_of(cls).name]
        assert isinstance(value, cls)
        return value

    def replaced(self, value: Any) -> SettingsSet:
        """This set with the group of `value`'s type replaced by `value`."""
        return SettingsSet({**self._values, group_of(type(value)).name: value})

    def changed(self, name: str, **fields: Any) -> SettingsSet:
        """This set with some fields of group `name` changed."""
        return self.replaced(dataclasses.replace(self._values[name], **fields))

    def to_json(self, names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Every setting's value of the named groups (default: all), JSON-ready."""
        chosen = self._values if names is None else names
        return {name: dataclasses.asdict(self._values[name]) for name in chosen}


def group_of(cls: type) -> SettingsGroup:
    """The group whose dataclass is `cls`."""
    for group in GROUPS:
        if group.cls is cls:
            return group
    raise KeyError(f"{cls.__name__} is no settings group")


# -- keys: group.name, or the bare name where it is unambiguous ----------------------------------


def _keys(groups: Iterable[SettingsGroup]) -> dict[str, list[tuple[str, SettingSpec]]]:
    """Every key (qualified and bare) of the groups -> the (group, spec) pairs it may mean."""
    keys: dict[str, list[tuple[str, SettingSpec]]] = {}
    for group in groups:
        for spec in specs(group.cls):
            keys.setdefault(f"{group.name}.{spec.name}", []).append((group.name, spec))
            keys.setdefault(spec.name, []).append((group.name, spec))
    return keys


def known_keys(groups: Iterable[SettingsGroup]) -> list[str]:
    """The keys that name one setting of the groups, sorted."""
    return sorted(key for key, meanings in _keys(groups).items() if len(meanings) == 1)


def resolve_key(key: str, groups: Iterable[SettingsGroup]) -> tuple[str, SettingSpec]:
    """(group name, spec) of the setting `key` names among `groups`.

    `-` stands for `_` as in the command-line flags (`gaze-x` is `gaze_x`).

    Raises:
        ValueError: for an unknown key (naming the closest known ones), or a bare name two
            groups share (naming both keys).
    """
    groups = list(groups)
    keys = _keys(groups)
    meanings = keys.get(key, []) or keys.get(key.replace("-", "_"), [])  # the flags' spelling
    if not meanings:
        close = difflib.get_close_matches(key.replace("-", "_"), known_keys(groups), n=3)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise ValueError(f"unknown key {key!r} ({hint}known keys: {', '.join(known_keys(groups))})")
    if len(meanings) > 1:
        choices = " or ".join(f"{group}.{spec.name}" for group, spec in meanings)
        raise ValueError(f"key {key!r} is ambiguous: use {choices}")
    return meanings[0]


def apply_overrides(
    settings: SettingsSet, overrides: Mapping[str, str], groups: Iterable[SettingsGroup]
) -> SettingsSet:
    """`settings` with each `key: value text` of `overrides` set (keys resolved among `groups`).

    Raises:
        ValueError: naming the bad key or value.
    """
    changes: dict[str, dict[str, Any]] = {}
    groups = list(groups)
    for key, text in overrides.items():
        group, spec = resolve_key(key, groups)
        if spec.name in changes.get(group, {}):
            raise ValueError(f"key {group}.{spec.name} given twice")
        changes.setdefault(group, {})[spec.name] = spec.parse(text)
    for group, fields in changes.items():
        settings = settings.changed(group, **implied(type(settings[group]), fields))
    return settings


def implied(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """The fields `given` for a group of dataclass `cls`, with what they imply added.

    A settings dataclass may define a classmethod `implied(given) -> fields` (e.g. setting an
    LOD budget selects the budget cut and enables LOD); others take the fields as given.
    """
    rule = getattr(cls, "implied", None)
    return dict(rule(dict(given))) if rule is not None else dict(given)


# -- command-line flags --------------------------------------------------------------------------


def command_groups(command: str) -> list[SettingsGroup]:
    """The groups whose flags `command` offers."""
    return [g for g in GROUPS if command in g.commands]


def add_arguments(parser: argparse.ArgumentParser, command: str) -> None:
    """Add to `parser` the flags of every settings group `command` offers.

    `--group.name` for each setting, and the bare `--name` where it names one setting only (where
    it is ambiguous, it explains the choice).
    """
    groups = command_groups(command)
    keys = _keys(groups)
    for group in groups:
        section = parser.add_argument_group(f"{group.title.lower()} settings ({group.name}.*)")
        for spec in specs(group.cls):
            unit = f" [{spec.unit}]" if spec.unit else ""
            qualified = f"--{group.name}.{spec.name.replace('_', '-')}"
            flags = [spec.flag, qualified] if len(keys[spec.name]) == 1 else [qualified]
            section.add_argument(
                *flags, dest=f"{group.name}.{spec.name}", type=_argparse_type(spec),
                default=None, metavar=_metavar(spec),
                help=f"{spec.help}{unit} (default: {_format(spec.default)})".replace("%", "%%"),
            )  # fmt: skip
    for key, meanings in keys.items():
        if "." not in key and len(meanings) > 1:
            parser.add_argument(
                "--" + key.replace("_", "-"), action=_Ambiguous, help=argparse.SUPPRESS,
                choices_text=" or ".join(
                    f"--{g}.{s.name.replace('_', '-')}" for g, s in meanings
                ),
            )  # fmt: skip


def from_arguments(
    args: argparse.Namespace, command: str, under: Mapping[str, str] | None = None
) -> SettingsSet:
    """The settings with every flag of `command` the user gave applied.

    Args:
        args: the parsed command line.
        command: the command whose settings groups it offers.
        under: qualified keys (`lod.tau`) and value texts set first, a preset's: the flags
            given replace those they name.
    """
    groups = command_groups(command)
    settings = apply_overrides(SettingsSet(), under or {}, groups)
    for group in groups:
        given = {s.name: getattr(args, f"{group.name}.{s.name}") for s in specs(group.cls)}
        flags = {k: v for k, v in given.items() if v is not None}
        if flags:  # a flag's implications too replace the preset's (--lod.budget: that cut)
            settings = settings.changed(group.name, **implied(group.cls, flags))
    return settings


def integer_type(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [minimum, maximum] (no upper bound when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"{value} is above the maximum {maximum}")
        return value

    parse.__name__ = "integer"
    return parse


def number_type(minimum: float, maximum: float) -> Callable[[str], float]:
    """An argparse type: a finite number in [minimum, maximum]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value:g} is below the minimum {minimum:g}")
        if value > maximum:
            raise argparse.ArgumentTypeError(f"{value:g} is above the maximum {maximum:g}")
        return value

    parse.__name__ = "number"
    return parse


class _Ambiguous(argparse.Action):
    """A bare flag two groups share: refused, naming the qualified flags."""

    def __init__(self, *args: Any, choices_text: str, **kwargs: Any) -> None:
        self.choices_text = choices_text
        super().__init__(*args, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        raise ValueError(f"{self.option_strings[0]} is ambiguous: use {self.choices_text}")


def setting_type(settings_class: type, name: str) -> Any:
    """An argparse type for one setting outside its group's flags (its parse and checks)."""
    return _argparse_type(next(spec for spec in specs(settings_class) if spec.name == name))


def _argparse_type(spec: SettingSpec) -> Any:
    """`spec.parse` whose errors argparse prints verbatim."""

    def parse(text: str) -> Any:
        try:
            return spec.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = spec.name
    return parse


def _format(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def _metavar(spec: SettingSpec) -> str:
    if spec.choices:
        return "{" + ",".join(spec.choices) + "}"
    if spec.kind is tuple:
        return (
            "R,G,B"
            if spec.range == (0.0, 1.0) and len(spec.default) == 3
            else ",".join(["N"] * len(spec.default))
        )
    return spec.kind.__name__.upper()
