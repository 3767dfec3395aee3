"""Unit quaternions (w, x, y, z) for camera rotations: conversion and spherical interpolation."""

from __future__ import annotations

import numpy as np


def quaternion_from_matrix(matrix: np.ndarray) -> np.ndarray:
    """[4] float64 unit quaternion (w, x, y, z), w >= 0, of a [3, 3] rotation matrix.

    Picks the numerically largest of the four components first (Shepperd's method).
    """
    m = np.asarray(matrix, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    candidates = (trace, m[0, 0], m[1, 1], m[2, 2])
    largest = int(np.argmax(candidates))
    if largest == 0:
        s = 2.0 * np.sqrt(1.0 + trace)
        q = np.array(
            [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
        )
    else:
        i = largest - 1
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = np.zeros(4)
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def matrix_from_quaternion(q: np.ndarray) -> np.ndarray:
    """[3, 3] float64 rotation matrix of a quaternion (w, x, y, z), normalised first."""
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """[4] unit quaternion `t` of the way from `a` to `b` along the shorter arc."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    dot = float(a @ b)
    if dot < 0.0:  # q and -q are the same rotation: take the short way round
        b, dot = -b, -dot
    if dot > 0.9995:  # nearly parallel: linear blend is exact enough and avoids 0/0
        out = a + (b - a) * t
        return out / np.linalg.norm(out)
    angle = np.arccos(dot)
    return (np.sin((1.0 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)


def slerp_matrices(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """[3, 3] rotation `t` of the way from rotation matrix `a` to `b`."""
    return matrix_from_quaternion(slerp(quaternion_from_matrix(a), quaternion_from_matrix(b), t))
