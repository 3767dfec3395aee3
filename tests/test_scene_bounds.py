"""Robust bounds of a scene: quantiles of the centres, computed once, never shared mutably."""

from __future__ import annotations

import dataclasses

import numpy as np

from tests.conftest import random_scene


def test_robust_bounds_are_the_quantiles_computed_once_and_copied():
    scene = random_scene(np.random.default_rng(), 5000)
    lo, hi = scene.robust_bounds()
    np.testing.assert_allclose(lo, np.quantile(scene.means, 0.01, axis=0), rtol=1e-6)
    np.testing.assert_allclose(hi, np.quantile(scene.means, 0.99, axis=0), rtol=1e-6)
    lo[:] = 99.0  # a caller editing its copy changes nothing
    assert not np.array_equal(scene.robust_bounds()[0], lo)
    wide = scene.robust_bounds(0.0)
    np.testing.assert_array_equal(wide[0], scene.means.min(axis=0))
    moved = dataclasses.replace(scene, means=scene.means + np.float32(1.0))
    np.testing.assert_allclose(moved.robust_bounds()[0], scene.robust_bounds()[0] + 1, atol=1e-5)
