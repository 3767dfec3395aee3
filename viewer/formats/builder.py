"""The one way readers turn decoded arrays into a GaussianScene."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from viewer.scene import GaussianScene, activate_opacities, activate_scales


def build_scene(
    path: Path,
    means: np.ndarray,
    rotations: np.ndarray,
    sh: np.ndarray,
    *,
    scales: np.ndarray | None = None,
    log_scales: np.ndarray | None = None,
    opacities: np.ndarray | None = None,
    opacity_logits: np.ndarray | None = None,
    file_format: str = "",
) -> GaussianScene:
    """Validate decoded arrays into a scene; give exactly one of each scale/opacity pair.

    Pre-activation values (`log_scales`, `opacity_logits`) are kept in the scene so that writing
    it back is bit-exact. GaussianScene.from_arrays drops Gaussians with NaN/Inf values (an
    overflowing activation included) with one warning.

    Args:
        path: the file the arrays came from (the scene's source).
        means: [N, 3] centres.
        rotations: [N, 4] quaternions (w, x, y, z), any length.
        sh: [N, K, 3] SH coefficients.
        scales: [N, 3] activated standard deviations (or give `log_scales`).
        log_scales: [N, 3] log standard deviations (or give `scales`).
        opacities: [N] activated opacities (or give `opacity_logits`).
        opacity_logits: [N] opacity logits (or give `opacities`).
        file_format: the file's format and version, for `splatscope info`.
    """
    if scales is None:
        if log_scales is None:
            raise ValueError("give scales or log_scales")
        scales = activate_scales(log_scales)
    if opacities is None:
        if opacity_logits is None:
            raise ValueError("give opacities or opacity_logits")
        opacities = activate_opacities(opacity_logits)
    scene = GaussianScene.from_arrays(
        means,
        scales,
        rotations,
        opacities,
        sh,
        source=str(path),
        log_scales=log_scales,
        opacity_logits=opacity_logits,
    )
    return dataclasses.replace(scene, file_format=file_format)
