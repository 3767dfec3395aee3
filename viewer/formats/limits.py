"""Resource bounds for the readers: a declared point count must fit in the memory available.

A header can declare more Gaussians than the machine can hold (a corrupt or hostile file, or
one made of zeros that compresses 1000:1). Readers check the decoded size against the memory
available before allocating anything, so such a file fails at once with one clear line instead
of swapping for a minute and then being killed.

What a load needs counts the file's own bytes too: a .ply or .splat is memory-mapped (its pages
count against an address-space limit and fill the page cache as they are copied), an .spz is
read whole. And what the command does with the scene next counts as well: a command that uploads
it to the GPU says so first (`planned_use`, with a `SceneUse` the render layer makes from the
GL device's facts), and the readers check the larger of the load's peak and the scene plus that
use, and the use's own limit on the number of Gaussians (a GL device's buffer sizes), while
nothing but the header has been read.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from viewer.errors import SceneError

# Bytes per Gaussian of a decoded scene besides its SH: means, scales, log-scales [N, 3],
# rotations [N, 4] and opacities [N], all float32.
SCENE_BYTES_PER_POINT = 4 * (3 + 3 + 3 + 4 + 1)
# Temporaries alive at the peak of a load, on top of the scene: GaussianScene.from_arrays takes
# a float64 copy of the quaternions, their norms and per-array finiteness masks. Measured with
# tracemalloc on 1M-Gaussian .spz/.ply/.splat loads: 81 to 93 bytes per Gaussian.
TRANSIENT_BYTES_PER_POINT = 96
_UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a huge number


def scene_bytes(count: int, sh_coeffs: int) -> int:
    """Host memory in bytes of a loaded scene of `count` Gaussians with `sh_coeffs` SH."""
    return count * (SCENE_BYTES_PER_POINT + 12 * sh_coeffs)


def decoded_bytes(count: int, sh_coeffs: int) -> int:
    """Host memory in bytes that a scene of `count` Gaussians needs at the peak of its load.

    With `sh_coeffs` SH coefficients; the scene and the validation temporaries (a reader adds
    its own data).
    """
    per_point = SCENE_BYTES_PER_POINT + 12 * sh_coeffs + TRANSIENT_BYTES_PER_POINT
    return count * per_point


def _read_int(path: str) -> int | None:
    """The integer a /proc or /sys file holds, or None ("max", missing, unreadable)."""
    try:
        with open(path, encoding="ascii") as file:
            return int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _meminfo_available() -> int | None:
    """MemAvailable of /proc/meminfo in bytes (Linux), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_headroom() -> int | None:
    """Limit minus usage of this process's memory cgroup (v2, else v1), or None if unlimited."""
    group = "/"
    try:
        with open("/proc/self/cgroup", encoding="ascii") as file:
            for line in file:
                if line.startswith("0::"):
                    group = line[3:].strip() or "/"
    except OSError:
        pass
    for folder in (f"/sys/fs/cgroup{group}".rstrip("/"), "/sys/fs/cgroup"):
        limit = _read_int(f"{folder}/memory.max")
        usage = _read_int(f"{folder}/memory.current")
        if limit is not None and usage is not None:
            return max(0, limit - usage)
    limit = _read_int("/sys/fs/cgroup/memory/memory.limit_in_bytes")
    usage = _read_int("/sys/fs/cgroup/memory/memory.usage_in_bytes")
    if limit is not None and usage is not None and limit < _UNLIMITED:
        return max(0, limit - usage)
    return None


def _address_space_headroom() -> int | None:
    """The address-space limit (ulimit -v, RLIMIT_AS) minus this process's size, or None."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        return None
    if limit == resource.RLIM_INFINITY:
        return None
    pages = _read_int("/proc/self/statm")  # total program size, in pages
    used = 0 if pages is None else pages * os.sysconf("SC_PAGE_SIZE")
    return max(0, limit - used)


def available_memory() -> int | None:
    """Bytes of memory this process can still allocate without swapping, or None if unknown.

    The smallest of MemAvailable (/proc/meminfo), the headroom of a memory cgroup limit and that
    of an address-space limit (ulimit -v); without /proc, the free physical pages that
    os.sysconf reports.
    """
    sources = (_meminfo_available(), _cgroup_headroom(), _address_space_headroom())
    candidates = [value for value in sources if value is not None]
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (OSError, ValueError, AttributeError):
            return None
    return min(candidates)


def gigabytes(size: int) -> str:
    """'3.2 GB' (decimal gigabytes, one decimal below 10)."""
    value = size / 1e9
    return f"{value:.1f} GB" if value < 10 else f"{value:.0f} GB"


@dataclass(frozen=True)
class SceneUse:
    """What the running command does with a scene once it is loaded, for the readers' checks.

    Attributes:
        what: how an error names the use ("to render on llvmpipe").
        host_bytes: (count, sh_coeffs) -> host memory in bytes the use needs besides the
            loaded scene (GL buffers a software device keeps in host memory, upload copies,
            the rendered image).
        max_points: the most Gaussians the use can take, or None for no limit.
        limit: why `max_points`, completing "more than ..." ("this GL device draws in one
            frame (...)").
    """

    what: str
    host_bytes: Callable[[int, int], int]
    max_points: int | None = None
    limit: str = ""


_uses: list[SceneUse] = []  # the planned uses, innermost last (`planned_use`)
_uses_lock = threading.Lock()


@contextlib.contextmanager
def planned_use(use: SceneUse | None) -> Iterator[None]:
    """Within this block, every scene read is checked for `use` too (None: nothing more)."""
    if use is None:
        yield
        return
    with _uses_lock:
        _uses.append(use)
    try:
        yield
    finally:
        with _uses_lock:
            _uses.remove(use)


def current_use() -> SceneUse | None:
    """The innermost planned use, or None."""
    with _uses_lock:
        return _uses[-1] if _uses else None


def check_decoded_size(path: str | Path, count: int, needed: int, sh_coeffs: int) -> None:
    """Raise SceneError when `count` Gaussians need more than the memory available.

    Checks the load's peak (`needed`) and, under a planned use, the scene plus what the use
    needs, and the use's limit on the number of Gaussians.

    Args:
        path: the file being read (for the message).
        count: the number of Gaussians its header declares.
        needed: bytes the load needs at its peak (decoded arrays, decompressed data and the
            file's bytes, read or mapped).
        sh_coeffs: SH coefficients per Gaussian the loaded scene keeps.
    """
    use = current_use()
    if use is not None and use.max_points is not None and count > use.max_points:
        raise SceneError(path, f"declares {count:,} points, more than {use.limit}")
    later = 0 if use is None else scene_bytes(count, sh_coeffs) + use.host_bytes(count, sh_coeffs)
    available = available_memory()
    if available is not None and max(needed, later) > available:
        then = "" if use is None else f", {gigabytes(later)} {use.what}"
        raise SceneError(
            path,
            f"declares {count:,} points ({gigabytes(needed)} decoded{then}), more than the "
            f"{gigabytes(available)} of memory available",
        )
