"""Validation switch: read a frame's intermediates back and check the pipeline's invariants."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from viewer.camera import Camera
from viewer.render.layout import COUNTER_PAIRS, COUNTER_VISIBLE

if TYPE_CHECKING:
    from viewer.render.renderer import SplatRenderer


class PipelineInvariantError(RuntimeError):
    """An intermediate buffer broke an invariant (a bug in a pass, not bad input)."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise PipelineInvariantError(message)


def validate_frame(renderer: SplatRenderer, camera: Camera, binned: bool) -> None:
    """Check the frame just rendered (waits for the GPU): counts, finiteness, sort orders.

    Args:
        binned: whether the frame went through the tiles binning (whose pairs are checked too).

    Raises:
        PipelineInvariantError: naming the first invariant found broken.
    """
    frame = renderer.frame
    counters = frame.read_counters()
    visible = int(counters[COUNTER_VISIBLE])
    _check(visible <= min(frame.capacity, renderer.scene.count), f"visible count {visible} too big")
    splats = frame.read_splats(visible)
    for name in splats.dtype.names:
        _check(bool(np.isfinite(splats[name]).all()), f"non-finite splat field {name}")
    _check(bool((splats["opacity"] >= 1 / 255).all()), "a visible splat is below 1/255 opacity")
    _check(bool((splats["depth"] > 0).all()), "a visible splat has non-positive depth")
    order = frame.read_uint(frame.sorted_splats, visible)
    _check(np.array_equal(np.sort(order), np.arange(visible)), "sorted splats are no permutation")
    _check(bool((np.diff(splats["depth"][order]) >= 0).all()), "depth order not monotone")
    ids = frame.read_uint(frame.gaussian_ids, visible)
    _check(len(np.unique(ids)) == visible, "a Gaussian was appended twice")
    _check(bool((ids < renderer.scene.count).all()), "Gaussian id out of range")
    tiles = renderer.tiles
    if not binned:
        return
    pairs = int(counters[COUNTER_PAIRS])
    tile_of_pair = frame.read_uint(tiles.pair_tiles, pairs)
    splat_of_pair = frame.read_uint(tiles.pair_splats, pairs)
    _check(bool((np.diff(tile_of_pair.astype(np.int64)) >= 0).all()), "pairs not sorted by tile")
    depth = splats["depth"][splat_of_pair]
    same_tile = tile_of_pair[1:] == tile_of_pair[:-1]
    _check(bool((np.diff(depth)[same_tile] >= 0).all()), "depth order lost inside a tile")
