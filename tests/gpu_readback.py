"""Read GPU state back for tests: what the passes and the scene keep on the GPU."""

from __future__ import annotations

import numpy as np

from viewer.camera import Camera
from viewer.render.gpu_scene import GpuScene
from viewer.render.lod_cut import LodCutPass, LodCutStats
from viewer.render.tile_bins import tile_grid


def read_levels(gpu: GpuScene) -> np.ndarray | None:
    """The scene's stored foveation levels ([rows] uint8), or None when it holds none."""
    if gpu.subsets is None:
        return None
    return np.frombuffer(gpu.subsets.buffer.read(), np.uint8)[: gpu.subsets.rows].copy()


def read_tile_levels(tile_levels_buffer, camera: Camera) -> np.ndarray:
    """[tiles y, tiles x] float32: a foveated binning's lowest level per tile."""
    tiles_x, tiles_y = tile_grid(camera.width, camera.height)
    data = tile_levels_buffer.read(size=tiles_x * tiles_y * 4)
    return np.frombuffer(data, np.float32).reshape(tiles_y, tiles_x).copy()


def read_cut_stats(cut: LodCutPass) -> LodCutStats:
    """The last LOD cut's stats (waits for the GPU; the renderer reads a copy a frame late)."""
    return LodCutStats.from_words(np.frombuffer(cut.state.read(), np.uint32))
