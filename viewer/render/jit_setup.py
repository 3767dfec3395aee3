"""How numba runs splatscope's kernels: its machine-code cache and its threads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

# the modules whose code and constants the compiled kernels hold (they inline across modules)
KERNEL_SOURCES = ("cpu_kernels", "cpu_footprint", "cpu_tile_sort", "cpu_measure", "fovea",
                  "fovea_host", "layout", "preprocess_host", "colormap")  # fmt: skip
# and the package's modules they take constants from (viewer/sh.py: the SH constants)
PACKAGE_SOURCES = ("sh",)


def sources_digest() -> str:
    """A short digest of the text of `KERNEL_SOURCES` and `PACKAGE_SOURCES`.

    numba checks a cached function against its own file only: a kernel whose inlined helper or
    constant in another module changed would load stale from the cache.
    """
    digest = hashlib.sha1()
    render = Path(__file__).parent
    for name in KERNEL_SOURCES:
        digest.update((render / f"{name}.py").read_bytes())
    for name in PACKAGE_SOURCES:
        digest.update((render.parent / f"{name}.py").read_bytes())
    return digest.hexdigest()[:12]


def jit_cache_dir() -> Path:
    """$XDG_CACHE_HOME/splatscope/numba/DIGEST (default ~/.cache/...), per `sources_digest`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "splatscope" / "numba" / sources_digest()


def configure_numba() -> None:
    """Set numba up before the kernels are decorated; the user's NUMBA_* variables win.

    `cache=True` functions are cached under `jit_cache_dir()` (numba's default, beside the
    sources, may not be writable in an installed package, and keys a kernel by its own file
    only), or NUMBA_CACHE_DIR, read here too: numba reads it once, when first imported, which
    may have been before it was set (tests/conftest.py). Parallel loops run on numba's own
    `workqueue` threads, which sleep when idle: OpenMP's, the default where it is installed,
    spin after each loop and take the cores from llvmpipe's threads, which run the GL passes in
    between (see the design log: binning took 8-30 ms instead of 2-5 on the built-in scene).
    """
    cache = os.environ.get("NUMBA_CACHE_DIR") or str(jit_cache_dir())
    numba.config.CACHE_DIR = cache  # type: ignore[attr-defined]
    if not os.environ.get("NUMBA_THREADING_LAYER"):
        numba.config.THREADING_LAYER = "workqueue"  # type: ignore[attr-defined]


def compiled(module: str) -> bool:
    """Whether numba's cache holds compiled functions of `module` (e.g. "cpu_kernels")."""
    return any(Path(numba.config.CACHE_DIR).rglob(f"{module}.*.nbi"))  # type: ignore[attr-defined]
