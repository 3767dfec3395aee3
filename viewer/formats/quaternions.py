"""Decoding of "smallest three" packed quaternions (compressed PLY and .spz v3)."""

from __future__ import annotations

import numpy as np

# For each index of the largest component, the slots of the three stored ones (ascending).
_STORED_SLOTS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
_FIELD_SHIFTS = np.array([20, 10, 0], dtype=np.uint32)  # the lowest stored slot is in the top bits


def unpack_smallest_three(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split 2-10-10-10 words into the largest component's index and the three 10-bit fields.

    Args:
        packed: [N] uint32; bits 30-31 hold the index of the largest component, bits 20-29,
            10-19 and 0-9 the other three in ascending component order.

    Returns:
        ([N] int64 index of the largest component, [N, 3] uint32 fields).
    """
    packed = packed.astype(np.uint32)
    largest = (packed >> np.uint32(30)).astype(np.int64)
    fields = (packed[:, None] >> _FIELD_SHIFTS) & np.uint32(0x3FF)
    return largest, fields


def expand_smallest_three(largest: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """[N, 4] float32 quaternions from the index of the largest component and the other three.

    The largest component is the non-negative sqrt(1 - |stored|^2) (clamped at 0).

    Args:
        largest: [N] int index 0..3 of the omitted component.
        stored: [N, 3] float32 values of the other components in ascending component order.
    """
    n = stored.shape[0]
    quaternions = np.empty((n, 4), dtype=np.float32)
    quaternions[np.arange(n)[:, None], _STORED_SLOTS[largest]] = stored
    squares = np.einsum("ij,ij->i", stored, stored)
    quaternions[np.arange(n), largest] = np.sqrt(np.maximum(0.0, 1.0 - squares))
    return quaternions
