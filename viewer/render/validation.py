"""Validation switch: read a frame's intermediates back and check the pipeline's invariants."""

from __future__ import annotations

import numpy as np

from viewer.render.frame_buffers import FrameBuffers
from viewer.render.layout import COUNTER_PAIRS, COUNTER_VISIBLE
from viewer.render.tile_bins import TileBins


class PipelineInvariantError(RuntimeError):
    """An intermediate buffer broke an invariant (a bug in a pass, not bad input)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise PipelineInvariantError(message)


def validate_frame(frame: FrameBuffers, bins: TileBins | None, gaussians: int) -> None:
    """Check the frame just rendered (waits for the GPU): counts, finiteness, sort orders.

    Args:
        frame: the frame's buffers.
        bins: the frame's tile bins, when it was binned (its pairs are checked too).
        gaussians: the scene's live count.

    Raises:
        PipelineInvariantError: naming the first invariant found broken.
    """
    counters = frame.read_counters()
    visible = int(counters[COUNTER_VISIBLE])
    _check(visible <= min(frame.capacity, gaussians), f"visible count {visible} too big")
    splats = frame.read_splats(visible)
    for name in splats.dtype.names or ():
        _check(bool(np.isfinite(splats[name]).all()), f"non-finite splat field {name}")
    _check(bool((splats["opacity"] >= 1 / 255).all()), "a visible splat is below 1/255 opacity")
    _check(bool((splats["depth"] > 0).all()), "a visible splat has non-positive depth")
    order = frame.read_uint(frame.sorted_splats, visible)
    _check(np.array_equal(np.sort(order), np.arange(visible)), "sorted splats are no permutation")
    _check(bool((np.diff(splats["depth"][order]) >= 0).all()), "depth order not monotone")
    ids = frame.read_uint(frame.gaussian_ids, visible)
    _check(len(np.unique(ids)) == visible, "a Gaussian was appended twice")
    _check(bool((ids < gaussians).all()), "Gaussian id out of range")
    if bins is None:
        return
    pairs = int(counters[COUNTER_PAIRS])
    tile_of_pair = frame.read_uint(bins.pair_tiles, pairs)
    splat_of_pair = frame.read_uint(bins.pair_splats, pairs)
    _check(bool((np.diff(tile_of_pair.astype(np.int64)) >= 0).all()), "pairs not sorted by tile")
    depth = splats["depth"][splat_of_pair]
    same_tile = tile_of_pair[1:] == tile_of_pair[:-1]
    _check(bool((np.diff(depth)[same_tile] >= 0).all()), "depth order lost inside a tile")
