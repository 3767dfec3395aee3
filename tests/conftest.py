"""Shared fixtures: the real scenes beside the checkout, a headless GL context, random scenes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SCENES = Path(__file__).resolve().parents[1].parent / "shared" / "scenes"


def _share_compiled_kernels() -> None:
    """Let every test process, and the app processes tests start with a private
    XDG_CACHE_HOME, load the cpu backend's kernels from the user's numba cache instead of
    compiling them again (seconds each, which app tests' deadlines would pay)."""
    from viewer.render.jit_setup import jit_cache_dir

    os.environ.setdefault("NUMBA_CACHE_DIR", str(jit_cache_dir()))


_share_compiled_kernels()
# the view of donut.ply from its README: 0.3 above it, looking down -z (OpenCV axes)
DONUT_TOP = np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0.3], [0, 0, 0, 1]], float)
DONUT_CAMERA = {  # that view as a camera file, 48x36 with fx = fy = width / 2
    "width": 48,
    "height": 36,
    "fx": 24.0,
    "fy": 24.0,
    "cx": 24.0,
    "cy": 18.0,
    "world_to_camera": DONUT_TOP.tolist(),
}


def scene_path(name: str) -> Path:
    """A file of ../shared/scenes; the test fails, saying why, when the scenes are missing."""
    path = SCENES / name
    if not path.exists():
        pytest.fail(f"real test scene {path} not found (../shared/scenes beside the checkout)")
    return path


@pytest.fixture(scope="session")
def gl_ctx():
    """One headless OpenGL 4.3 context (EGL) for the whole session."""
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    from viewer.render.context import GLUnavailableError, create_headless_context

    try:
        ctx = create_headless_context()
    except GLUnavailableError as exc:
        pytest.skip(str(exc))
    yield ctx
    ctx.release()


def random_scene(rng: np.random.Generator, count: int, sh_degree: int = 3, spread: float = 1.0):
    """`count` random Gaussians around the origin, all parameters drawn from `rng`."""
    from viewer.scene import GaussianScene

    k = (sh_degree + 1) ** 2
    return GaussianScene.from_arrays(
        rng.normal(scale=spread * 0.5, size=(count, 3)),
        np.exp(rng.normal(np.log(0.05 * spread), 0.6, size=(count, 3))),
        rng.normal(size=(count, 4)),
        rng.uniform(0.05, 1.0, size=count),
        rng.normal(scale=0.4, size=(count, k, 3)),
        source="random",
    )


@pytest.fixture
def upload(gl_ctx):
    """scene -> GpuScene on the session's GL context; every scene uploaded is freed after the
    test."""
    from viewer.render.gpu_scene import GpuScene

    scenes = []

    def put(scene, **options):
        gpu_scene = GpuScene.from_scene(gl_ctx, scene)
        scenes.append(gpu_scene)
        return gpu_scene

    yield put
    for gpu_scene in scenes:
        gpu_scene.release()


def _no_cuda_reason() -> str | None:
    """Why the `gpu` tests cannot run here, or None when a CUDA device is present."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "needs a CUDA GPU (torch.cuda.is_available() is False); run on a GPU machine"
    return None


def pytest_collection_modifyitems(config, items):
    """Skip the tests marked `gpu` with a reason where no CUDA device is."""
    reason = _no_cuda_reason()
    if reason is None:
        return
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """A training dataset: 8 training and 1 held-out 32x32 views of the built-in scene, 500
    seed points (read only by the tests that train on it)."""
    from tests.test_train import run_cli

    out = tmp_path_factory.mktemp("data") / "small"
    result = run_cli(
        "make-dataset", "--views", "8", "--test-views", "1", "--width", "32", "--height", "32",
        "--points", "500", "--renderer", "reference", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out
