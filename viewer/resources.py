"""Locate the shader sources and built-in assets, from an installed wheel or from a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    """`viewer/<name>` inside an installed wheel, else `<checkout>/<name>`."""
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"splatscope resource folder '{name}' not found next to {_PACKAGE_DIR}")


def shader_dir() -> Path:
    """Folder holding the GLSL sources (one file per pass)."""
    return _resource_dir("shaders")


def asset_dir() -> Path:
    """Folder holding the built-in scene files."""
    return _resource_dir("assets")
