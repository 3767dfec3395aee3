"""A .ply larger than memory as the rows of a streamed SOG writer (lod_stream_write.RowSource).

Bounded memory: the centres of every row are read in pieces (12 bytes per Gaussian stay
resident, with the partition's 8-byte row indices and a 4-byte leaf id per row); once the
spatial partition is known, one more pass over the file in pieces appends each piece's rows to
one scratch file per leaf, so that each leaf is later read whole with a single read, decoded,
built and written, and its scratch file removed. The file is read twice, sequentially; the
scratch files hold one copy of the vertex data at a time at most.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.features.lod_stream_write import StreamLayout
from viewer.formats.ply_pieces import PlyPieces
from viewer.scene import GaussianScene

BYTES_PER_GAUSSIAN = 6144  # peak per leaf Gaussian (measured 5.1 KB, SH 3): build, encode, chunks
MIN_LEAF = 256


def budget_layout(budget_bytes: int) -> tuple[int, StreamLayout]:
    """The bytes per read and the layout for a memory budget.

    Reads take an eighth of the budget; leaves and chunks are as large as their build and
    encode allow within it (at most the default layout's).
    """
    fits = budget_bytes // BYTES_PER_GAUSSIAN
    default = StreamLayout()
    leaf = min(default.leaf_size, max(MIN_LEAF, fits))
    unit = min(default.unit_size, max(leaf, fits))
    return max(1, budget_bytes // 8), replace(default, leaf_size=leaf, unit_size=unit)


@dataclass
class SpilledRows:
    """A .ply read in pieces whose rows are sorted into one scratch file per leaf."""

    ply: PlyPieces
    scratch: Path | None = None
    leaf_of_first_row: dict[int, int] = field(default_factory=dict)

    def positions(self) -> np.ndarray:
        """[N, 3] float32 centres, read in pieces."""
        return self.ply.positions()

    def prepare(self, leaves: list[np.ndarray], scratch: Path) -> None:
        """Append each leaf's rows, piece by piece, to its own file under `scratch`."""
        self.scratch = scratch
        scratch.mkdir()
        leaf_of_row = np.empty(self.ply.count, dtype=np.int32)
        for leaf, rows in enumerate(leaves):
            leaf_of_row[rows] = leaf
            self.leaf_of_first_row[int(rows[0])] = leaf
        for start, rows in self.ply.pieces():
            ids = leaf_of_row[start : start + rows.shape[0]]
            order = np.argsort(ids, kind="stable")
            found, first = np.unique(ids[order], return_index=True)
            for leaf, a, b in zip(found, first, [*first[1:], order.size], strict=True):
                with open(scratch / f"{leaf}.rows", "ab") as file:
                    file.write(rows[order[a:b]].tobytes())

    def rows(self, rows: np.ndarray) -> GaussianScene:
        """The Gaussians of one leaf (its sorted rows), read from its scratch file."""
        assert self.scratch is not None, "prepare comes first"
        path = self.scratch / f"{self.leaf_of_first_row[int(rows[0])]}.rows"
        records = np.fromfile(path, dtype=self.ply.dtype)
        path.unlink()
        if records.shape[0] != rows.size:
            raise SceneError(self.ply.path, "changed while it was read in pieces")
        return self.ply.scene(records)
