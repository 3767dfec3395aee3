"""Read GLSL sources from the shader folder, resolving `#include "file"` and adding defines."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from viewer.resources import shader_dir

_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"\s*$', re.MULTILINE)


@cache
def _read(name: str) -> str:
    return (shader_dir() / name).read_text()


def _expand(name: str, seen: tuple[str, ...]) -> str:
    if name in seen:
        raise ValueError(f"shader include cycle: {' -> '.join((*seen, name))}")
    return _INCLUDE.sub(lambda m: _expand(m.group(1), (*seen, name)), _read(name))


def shader_source(name: str, defines: Mapping[str, int | float | str] | None = None) -> str:
    """The full source of shader `name` with includes expanded and `#define`s after `#version`."""
    text = _expand(name, ())
    version, _, body = text.partition("\n")
    if not version.startswith("#version"):
        raise ValueError(f"shader {name} must start with a #version line")
    lines = [f"#define {key} {value}" for key, value in (defines or {}).items()]
    return "\n".join([version, *lines, "#line 2", body])
