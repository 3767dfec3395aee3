"""One description per setting drives the CLI flags, the bench config keys and the UI widgets.

The description is the dataclass field's metadata (see `viewer.settings.setting`).
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

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
        """The CLI flag, e.g. --sh-degree."""
        return "--" + self.name.replace("_", "-")

    def parse(self, text: str) -> Any:
        """A value from its text form ("3", "0.5", "true", "quads", "1,1,1").

        Raises:
            ValueError: with the setting's name, when the text is no valid value.
        """
        try:
            if self.kind is bool:
                lowered = text.strip().lower()
                if lowered not in ("1", "0", "true", "false", "on", "off", "yes", "no"):
                    raise ValueError(text)
                value: Any = lowered in ("1", "true", "on", "yes")
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
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
        if self.range is not None:
            lo, hi = self.range
            values = value if isinstance(value, tuple) else (value,)
            if any(not lo <= v <= hi for v in values):
                raise ValueError(f"{self.name}: {value!r} is outside [{lo}, {hi}]")

    def _describe(self) -> str:
        if self.kind is tuple:
            return f"comma-separated list of {len(self.default)} numbers"
        return self.kind.__name__


def specs(settings_class: type) -> list[SettingSpec]:
    """The setting descriptions of a settings dataclass, in field order."""
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
    return out


def add_arguments(parser: argparse.ArgumentParser, settings_class: type) -> None:
    """Add one flag per setting (default None = keep the dataclass default)."""
    group = parser.add_argument_group(settings_class.__name__)
    for spec in specs(settings_class):
        unit = f" [{spec.unit}]" if spec.unit else ""
        help_text = f"{spec.help}{unit} (default: {_format(spec.default)})"
        group.add_argument(
            spec.flag, dest=spec.name, type=_argparse_type(spec), default=None,
            metavar=_metavar(spec),
            help=help_text,
        )  # fmt: skip


def from_arguments(settings_class: type[T], args: argparse.Namespace) -> T:
    """Settings with every flag the user gave applied."""
    given = {s.name: getattr(args, s.name) for s in specs(settings_class)}
    return settings_class(**{k: v for k, v in given.items() if v is not None})


def apply_overrides(settings: T, overrides: dict[str, str]) -> T:
    """`settings` with the keys it owns set from their text form; other keys are left alone."""
    own = {s.name: s for s in specs(type(settings))}
    changes = {k: own[k].parse(v) for k, v in overrides.items() if k in own}
    return dataclasses.replace(settings, **changes)


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
    return "R,G,B" if spec.kind is tuple else spec.kind.__name__.upper()
