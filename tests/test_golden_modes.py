"""Golden renders of the depth and heatmap modes, an LOD cut and foveation (tests/golden/modes).

Made by scripts/make_golden.py with the references of tests/golden_modes.py. Tolerances as the
colour goldens': the reference must reproduce the stored images to 1e-6 (rounding only), the
GPU (both backends, CPU sort) reach 45 dB PSNR. Foveation has two references: nested subsets
weighed per splat (the quads backend's rule) and per pixel (the tiles backend's).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.golden_modes import load, names, reference_images
from viewer.features.lod_gpu import attach_hierarchy
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.image_metrics import psnr
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings

NAMES = names()
MIN_GPU_PSNR = 45.0
# where foveation differs: per splat (quads) or per pixel (tiles, cpu)
IMAGE_OF_BACKEND = {"quads": "image", "tiles": "image_per_pixel", "cpu": "image_per_pixel"}


def test_every_path_has_its_golden():
    kinds = {load(name)[0].kind for name in NAMES}
    assert kinds == {"depth", "heatmap", "lod", "fovea"}


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_reproduces_its_golden_images(name):
    case, stored = load(name)
    again = reference_images(case)
    assert again.keys() == stored.keys()
    for key, image in stored.items():
        np.testing.assert_allclose(again[key], image, rtol=0, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("backend", ["quads", "tiles", "cpu"])
@pytest.mark.parametrize("name", NAMES)
def test_the_gpu_matches_the_golden_images(name, backend, gl_ctx, upload):
    case, stored = load(name)
    gpu_scene = upload(case.scene)
    if case.heat is not None:
        gpu_scene.write_heat(case.heat)
    if case.lod is not None:
        attach_hierarchy(gpu_scene, build_hierarchy(case.scene))
    if case.levels is not None:
        gpu_scene.write_levels(case.levels)
    validate = backend != "cpu"  # the cpu backend's own frames (host preprocess and LOD cut)
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend=backend, sort="cpu", validate=validate))
    try:
        gpu = renderer.render_image(gpu_scene, case.inputs(), case.settings)
        assert validate or renderer.host_preprocess.covered
    finally:
        renderer.release()
    expected = stored.get(IMAGE_OF_BACKEND[backend], stored["image"])
    assert psnr(gpu, expected) >= MIN_GPU_PSNR
    if case.fovea is not None:  # the two rules differ outside the fovea: each is checked
        assert psnr(stored["image"], stored["image_per_pixel"]) < 40.0
