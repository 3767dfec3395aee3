"""Where a splat's alpha reaches 1/255: its ellipse, clipped to a band of pixels (numba).

A splat of opacity o and conic (a, b, c) has power = -Q / 2 at a pixel centre (dx, dy) from its
centre, Q = a dx^2 + 2 b dx dy + c dy^2, and is composited there only where alpha >= 1/255,
Q <= 2 ln(255 o) (preprocess's cutoff, whose axis-aligned box is the splat's extent). The box
holds much that the ellipse does not: a tilted or thin splat reaches few of its box's tiles and,
in a tile, few of its rows. `band_range` of an `ellipse` gives its exact extent along one axis
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
def ellipse(a: float, b: float, c: float, bound: float) -> tuple[float, ...]:
    """The ellipse a u^2 + 2 b u v + c v^2 <= `bound`, with what `band_range` needs of it.

    Returns (a, b, c, bound, det, reach_u, reach_v, u_low): det = ac - b^2, the half extents
    along u and v, and the u of its lowest point (v = -reach_v; the highest is at -u_low);
    reach_u is NaN where it is not an ellipse (preprocess keeps none such).
    """
    a, b, c = float(a), float(b), float(c)  # float32 conics lose det to cancellation
    det = a * c - b * b
    if det <= 0.0 or a <= 0.0 or c <= 0.0 or bound <= 0.0:
        return a, b, c, bound, det, math.nan, math.nan, math.nan
    reach_v = math.sqrt(bound * a / det)
    return a, b, c, bound, det, math.sqrt(bound * c / det), reach_v, b * reach_v / a


@njit(cache=True, inline="always")
def band_range(shape: tuple[float, ...], lo: float, hi: float) -> tuple[float, float]:
    """The range of v over the `ellipse` `shape` within the band lo <= u <= hi.

    Returns (inf, -inf) where it misses the band, (-inf, inf) where `shape` is no ellipse. The
    ellipse ∩ band is convex, so the range is an interval: its ends lie at the ellipse's lowest
    (highest) point when that point's u is in the band, else on the band's edges.
    """
    reach_u, reach_v, u_low = shape[5], shape[6], shape[7]
    if not reach_u >= 0.0:
        return -math.inf, math.inf
    lo, hi = max(lo - MARGIN, -reach_u), min(hi + MARGIN, reach_u)
    if lo > hi:
        return math.inf, -math.inf
    low = -reach_v if lo <= u_low <= hi else min(_edge(shape, lo, -1.0), _edge(shape, hi, -1.0))
    high = reach_v if lo <= -u_low <= hi else max(_edge(shape, lo, 1.0), _edge(shape, hi, 1.0))
    return low - MARGIN, high + MARGIN


@njit(cache=True, inline="always")
def _edge(shape: tuple[float, ...], u: float, side: float) -> float:
    """The v where the line at `u` crosses the ellipse: the lower (side -1) or upper (+1)."""
    b, c, bound, det = shape[1], shape[2], shape[3], shape[4]
    return (-b * u + side * math.sqrt(max(c * bound - det * u * u, 0.0))) / c


@njit(cache=True, inline="always")
def pixel_span(lo: float, hi: float, centre: float, first: int, last: int) -> tuple[int, int]:
    """Pixels p in [first, last] whose centre p + 0.5 lies in [centre + lo, centre + hi]."""
    if not lo <= hi:
        return 1, 0
    start = math.ceil(max(centre + lo - 0.5, first - 1.0))
    stop = math.floor(min(centre + hi - 0.5, last + 1.0))
    return max(start, first), min(stop, last)
