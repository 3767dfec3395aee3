"""An INRIA 3DGS .ply read in pieces of rows, for scenes larger than memory.

The vertex rows are read with plain reads of at most `piece_bytes` (never memory-mapped, so
the pages read do not stay in the process's resident set): the centres of every row in one
pass, and any other pass over the rows piece by piece.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from viewer.errors import SceneError
from viewer.formats.ply import POSITION, inria_properties, inria_scene
from viewer.formats.ply_binary import columns, open_binary_ply
from viewer.input_files import open_input
from viewer.scene import GaussianScene


class PlyPieces:
    """The vertex rows of an INRIA .ply, read `piece_bytes` at a time."""

    def __init__(self, path: Path, piece_bytes: int) -> None:
        """Parse and check the header.

        Raises:
            SceneError: for a file that is not a binary INRIA 3DGS .ply.
        """
        ply = open_binary_ply(path)
        self.path = path
        self.rest = inria_properties(ply)
        vertex = ply.elements["vertex"]
        self.dtype, self.offset, self.count = vertex.dtype, vertex.offset, vertex.count
        self.piece_rows = max(1, piece_bytes // self.dtype.itemsize)

    def pieces(self) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, structured rows) of each piece, in file order."""
        with open_input(self.path) as file:
            file.seek(self.offset)
            for start in range(0, self.count, self.piece_rows):
                rows = min(self.piece_rows, self.count - start)
                data = file.read(rows * self.dtype.itemsize)
                if len(data) != rows * self.dtype.itemsize:
                    raise SceneError(self.path, "truncated while it was read in pieces")
                yield start, np.frombuffer(data, dtype=self.dtype)

    def positions(self) -> np.ndarray:
        """[N, 3] float32 centres of every row."""
        out = np.empty((self.count, 3), dtype=np.float32)
        for start, rows in self.pieces():
            out[start : start + rows.shape[0]] = columns(rows, POSITION)
        return out

    def scene(self, rows: np.ndarray) -> GaussianScene:
        """The Gaussians of structured vertex `rows` of this file."""
        return inria_scene(self.path, rows, self.rest)
