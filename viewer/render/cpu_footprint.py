"""Where a splat's alpha reaches 1/255: its ellipse, clipped to a band of pixels (numba).

A splat of opacity o and conic (a, b, c) has power = -Q / 2 at a pixel centre (dx, dy) from its
centre, Q = a dx^2 + 2 b dx dy + c dy^2, and is composited there only where alpha >= 1/255,
Q <= 2 ln(255 o) (preprocess's cutoff, whose axis-aligned box is the splat's extent). The box
holds much that the ellipse does not: a tilted or thin splat reaches few of its box's tiles and,
in a tile, few of its rows. `band_range` gives the exact extent of the ellipse along one axis
within a band of the other: the binning keeps only the tiles a splat reaches (per row of tiles)
and the compositing only the rows of a tile it reaches. The bounds are widened a little
(`REACH_SLACK`, `MARGIN`) so that float rounding never drops a pixel the compositing would blend:
the image is the one of the whole box.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from viewer.render.jit_setup import configure_numba

configure_numba()

REACH_SLACK = 1e-3  # Q's bound grows by this fraction and amount
MARGIN = 0.01  # pixels added to either side of a band and of the extent found in it


@njit(cache=True, inline="always")
def reach(opacity: np.float32) -> float:
    """The largest Q at which a splat of `opacity` can have alpha >= 1/255 (a little more)."""
    return 2.0 * math.log(max(255.0 * float(opacity), 1.0)) * (1.0 + REACH_SLACK) + REACH_SLACK


@njit(cache=True, inline="always")
def band_range(
    a: float, b: float, c: float, bound: float, lo: float, hi: float
) -> tuple[float, float]:
    """The range of v over the ellipse a u^2 + 2 b u v + c v^2 <= `bound` with lo <= u <= hi.

    Returns (inf, -inf) where the ellipse misses the band. The ellipse ∩ band is convex, so the
    range is an interval: its ends lie at the ellipse's lowest (highest) point when that point's
    u is in the band, else on the band's edges.
    """
    a, b, c = float(a), float(b), float(c)  # float32 conics lose det to cancellation
    det = a * c - b * b
    if det <= 0.0 or c <= 0.0 or bound <= 0.0:  # not an ellipse (preprocess keeps none)
        return -math.inf, math.inf
    reach_u = math.sqrt(bound * c / det)  # the ellipse's half extent along u
    lo, hi = max(lo - MARGIN, -reach_u), min(hi + MARGIN, reach_u)
    if lo > hi:
        return math.inf, -math.inf
    reach_v = math.sqrt(bound * a / det)
    u_low = b * reach_v / a  # u of the lowest point (v = -reach_v); the highest is at -u_low
    if lo <= u_low <= hi:
        v_min = -reach_v
    else:
        v_min = min(_edge(a, b, c, bound, det, lo, -1.0), _edge(a, b, c, bound, det, hi, -1.0))
    if lo <= -u_low <= hi:
        v_max = reach_v
    else:
        v_max = max(_edge(a, b, c, bound, det, lo, 1.0), _edge(a, b, c, bound, det, hi, 1.0))
    return v_min - MARGIN, v_max + MARGIN


@njit(cache=True, inline="always")
def _edge(a: float, b: float, c: float, bound: float, det: float, u: float, side: float) -> float:
    """The v where the line at `u` crosses the ellipse: the lower (side -1) or upper (+1)."""
    return (-b * u + side * math.sqrt(max(c * bound - det * u * u, 0.0))) / c


@njit(cache=True, inline="always")
def pixel_span(lo: float, hi: float, centre: float, first: int, last: int) -> tuple[int, int]:
    """Pixels p in [first, last] whose centre p + 0.5 lies in [centre + lo, centre + hi]."""
    if not lo <= hi:
        return 1, 0
    start = math.ceil(max(centre + lo - 0.5, first - 1.0))
    stop = math.floor(min(centre + hi - 0.5, last + 1.0))
    return max(start, first), min(stop, last)
