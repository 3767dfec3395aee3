"""Golden renders (tests/golden, made by scripts/make_golden.py): tiny scenes whose float64
reference images are checked in, rendered again by the reference and by the GPU pipeline.

Tolerances: the float64 reference must reproduce the stored image to 1e-6 (it was stored as
float32, so this is rounding only: any change of image formation shows); the GPU (float32, both
backends, both sorts where the device has them) within 45 dB PSNR, as the fidelity tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from viewer.camera import Camera
from viewer.image_metrics import psnr
from viewer.reference import render_reference
from viewer.render.frame_inputs import FrameInputs
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

GOLDEN = Path(__file__).parent / "golden"
NAMES = sorted(path.stem for path in GOLDEN.glob("*.npz"))
MIN_GPU_PSNR = 45.0


def load_golden(name: str) -> tuple[GaussianScene, Camera, RenderSettings, np.ndarray]:
    """The scene, camera, settings and stored image of one golden file."""
    with np.load(GOLDEN / f"{name}.npz") as data:
        arrays = {k: data[k] for k in ("means", "scales", "rotations", "opacities", "sh")}
        camera = Camera.from_dict(json.loads(str(data["camera"])))
        fields = json.loads(str(data["settings"]))
        image = data["image"]
    fields["background"] = tuple(fields["background"])
    return GaussianScene(**arrays, source=name), camera, RenderSettings(**fields), image


def test_the_golden_set_is_there():
    assert len(NAMES) >= 4


@pytest.mark.parametrize("name", NAMES)
def test_the_reference_reproduces_its_golden_image(name):
    scene, camera, settings, image = load_golden(name)
    with torch.no_grad():
        again = render_reference(scene.to_torch(), camera, settings, dtype=torch.float64).image
    np.testing.assert_allclose(again.numpy(), image, rtol=0, atol=1e-6)


@pytest.mark.parametrize("backend", ["quads", "tiles", "cpu"])
@pytest.mark.parametrize("name", NAMES)
def test_the_gpu_matches_the_golden_image(name, backend, gl_ctx, upload):
    """Every backend; the cpu one without the validation switch, whose frames go through the GL
    passes: its own frames (host preprocess) are what `auto` draws on software GL."""
    scene, camera, settings, image = load_golden(name)
    validate = backend != "cpu"
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend=backend, sort="cpu", validate=validate))
    try:
        gpu = renderer.render_image(upload(scene), FrameInputs(camera), settings)
        assert validate or renderer.host_preprocess.covered
    finally:
        renderer.release()
    assert psnr(gpu, image) >= MIN_GPU_PSNR
