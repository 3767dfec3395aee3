"""Where numba keeps the machine code it compiles: the user cache directory."""

from __future__ import annotations

import os
from pathlib import Path

import numba


def jit_cache_dir() -> Path:
    """$XDG_CACHE_HOME/splatscope/numba (default ~/.cache/splatscope/numba)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "splatscope" / "numba"


def use_user_cache() -> None:
    """Cache `cache=True` functions decorated after this call under `jit_cache_dir()`.

    The user's own NUMBA_CACHE_DIR wins. Without either, numba writes next to the sources, which
    an installed package may not allow.
    """
    if not os.environ.get("NUMBA_CACHE_DIR"):
        numba.config.CACHE_DIR = str(jit_cache_dir())  # type: ignore[attr-defined]
