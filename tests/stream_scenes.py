"""A small streamed SOG for the streaming tests: Gaussians along a row, near and far leaves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import random_scene
from viewer.features.lod_stream_write import SceneRows, StreamLayout, write_streamed_sog
from viewer.scene import GaussianScene

ROW_LAYOUT = StreamLayout(leaf_size=500, unit_size=2000, levels=3)


def row_scene(count: int = 4000, seed: int = 3) -> GaussianScene:
    """SH-1 Gaussians along a 40-unit row (x), so that one camera sees near and far leaves."""
    scene = random_scene(np.random.default_rng(seed), count, sh_degree=1, spread=0.4)
    means = scene.means.copy()
    means[:, 0] += np.linspace(0.0, 40.0, count, dtype=np.float32)
    return GaussianScene.from_arrays(
        means, scene.scales, scene.rotations, scene.opacities, scene.sh, source="row"
    )


def write_row(folder: Path) -> Path:
    """The row as a streamed SOG in `folder`/row: 8 leaves of 500 and two coarser levels."""
    path = folder / "row" / "lod-meta.json"
    write_streamed_sog(SceneRows(row_scene()), path, ROW_LAYOUT)
    return path
