"""Packed "smallest three" quaternions (compressed PLY, .spz v3 and v4): the shared steps.

Both formats store the index of the largest-magnitude component in 2 bits and the other three,
in ascending component order, as 10-bit fields (the first in the highest bits); the largest is
made non-negative (q and -q are the same rotation) and recovered as sqrt(1 - |others|^2). They
differ in how a 10-bit field encodes a value (see the format modules).
"""

from __future__ import annotations

import numpy as np

_FIELD_SHIFTS = np.array([20, 10, 0], dtype=np.uint32)  # the lowest stored slot is in the top bits


def unpack_smallest_three(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split 2-10-10-10 words into the largest component's index and the three 10-bit fields.

    Args:
        packed: [N] uint32; bits 30-31 hold the index of the largest component, bits 20-29,
            10-19 and 0-9 the other three in ascending component order.

    Returns:
        ([N] uint8 index of the largest component, [N, 3] uint16 fields).
    """
    packed = packed.astype(np.uint32, copy=False)
    largest = (packed >> np.uint32(30)).astype(np.uint8)
    fields = ((packed[:, None] >> _FIELD_SHIFTS) & np.uint32(0x3FF)).astype(np.uint16)
    return largest, fields


def expand_smallest_three(largest: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """[N, 4] float32 quaternions from the index of the largest component and the other three.

    The largest component is the non-negative sqrt(1 - |stored|^2) (clamped at 0).

    Args:
        largest: [N] int index 0..3 of the omitted component.
        stored: [N, 3] float32 values of the other components in ascending component order.
    """
    stored = stored.astype(np.float32, copy=False)
    squares = np.einsum("ij,ij->i", stored, stored)  # [N] float32
    omitted = np.sqrt(np.maximum(np.float32(0.0), np.float32(1.0) - squares))
    quaternions = np.empty((stored.shape[0], 4), dtype=np.float32)
    for slot in range(4):  # component `slot` is stored[slot] below the omitted one, else [slot-1]
        before, after = stored[:, min(slot, 2)], stored[:, max(slot - 1, 0)]
        quaternions[:, slot] = np.where(
            largest == slot, omitted, np.where(largest > slot, before, after)
        )
    return quaternions


def pack_smallest_three(quaternions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalise, pick the largest-magnitude component and make it non-negative.

    Args:
        quaternions: [N, 4] quaternions in the component order the format indexes (any length,
            not zero).

    Returns:
        ([N] uint32 index of the largest component, [N, 3] float32 other components in
        ascending order, of the quaternion with that component >= 0).
    """
    q = quaternions.astype(np.float64)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    largest = np.abs(q).argmax(axis=1)
    rows = np.arange(q.shape[0])
    q[q[rows, largest] < 0] *= -1.0
    keep = np.ones(q.shape, dtype=bool)
    keep[rows, largest] = False
    others = q[keep].reshape(-1, 3).astype(np.float32)  # row-major: ascending component order
    return largest.astype(np.uint32), others


def join_smallest_three(largest: np.ndarray, fields: np.ndarray) -> np.ndarray:
    """[N] uint32 words of [N] largest-component indices and [N, 3] 10-bit fields."""
    words = largest.astype(np.uint32) << np.uint32(30)
    for slot, shift in enumerate(_FIELD_SHIFTS):
        words |= (fields[:, slot].astype(np.uint32) & np.uint32(0x3FF)) << shift
    return words
