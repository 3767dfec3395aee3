"""`splatscope train` and `make-dataset`: datasets, densification, the run, outputs, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import scene_path
from tests.train_helpers import nerf_views, write_colmap, write_transforms
from viewer.errors import SceneError
from viewer.settings import TrainSettings
from viewer.train.datasets import open_dataset
from viewer.train.strategy import Densifier

SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # two xdist workers, two cores


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The command in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "viewer", *args], capture_output=True, text=True, timeout=900,
        env={**os.environ, **SINGLE_THREAD, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="session")
def donut_data(tmp_path_factory) -> Path:
    """24 training and 3 held-out 64x64 views of donut.ply, with 10k seed points."""
    out = tmp_path_factory.mktemp("data") / "donut"
    result = run_cli(
        "make-dataset", str(scene_path("donut.ply")), "--views", "24", "--width", "64",
        "--height", "64", "--out", str(out), "--up", "+Z",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


# -- make-dataset ---------------------------------------------------------------------------------


def test_make_dataset_writes_a_nerf_synthetic_folder(donut_data):
    assert sorted(p.name for p in donut_data.iterdir()) == [
        "points3d.ply", "test", "train", "transforms_test.json", "transforms_train.json",
    ]  # fmt: skip
    meta = json.loads((donut_data / "transforms_train.json").read_text())
    assert len(meta["frames"]) == 24 and len(list((donut_data / "test").iterdir())) == 3
    dataset = open_dataset(donut_data)
    assert dataset.kind == "nerf-synthetic" and dataset.size == (64, 64)
    assert (len(dataset.train), len(dataset.test)) == (24, 3)
    assert dataset.points is not None and dataset.points[0].shape == (10_000, 3)
    assert not dataset.has_alpha


def test_make_dataset_images_are_renders_of_their_cameras(tmp_path):
    """The reference renderer's images, read back through transforms_*.json, match."""
    from viewer.builtin_scene import load_scene_or_builtin
    from viewer.reference import render_scene_reference

    out = tmp_path / "data"
    result = run_cli(
        "make-dataset", "--views", "1", "--test-views", "1", "--width", "24", "--height", "16",
        "--out", str(out), "--renderer", "reference", "--points", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "reference renderer" in result.stdout and not (out / "points3d.ply").exists()
    scene = load_scene_or_builtin(None)
    dataset = open_dataset(out)
    for view in (*dataset.train, *dataset.test):
        expected = np.clip(render_scene_reference(scene, view.camera), 0, 1) * 255
        image = np.asarray(Image.open(view.image).convert("RGB"), np.float64)
        assert np.abs(image - expected).max() <= 1.0


def test_make_dataset_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = run_cli(
        "make-dataset", "--views", "2", "--width", "8", "--height", "8", "--out", str(tmp_path)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not empty" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


# -- datasets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("model", ["PINHOLE", "SIMPLE_PINHOLE", "OPENCV"])
def test_colmap_models_read_as_the_cameras_they_were_written_from(tmp_path, donut_data, binary,
                                                                   model):  # fmt: skip
    cameras, images = nerf_views(donut_data)
    cameras, images = cameras[:9], images[:9]
    points = (np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32),
              np.random.default_rng(1).integers(0, 256, (50, 3), dtype=np.uint8))  # fmt: skip
    params = (cameras[0].fx, cameras[0].fy, cameras[0].cx, cameras[0].cy, 0.0, 0.0, 0.0, 0.0)
    write_colmap(tmp_path / "c", cameras, images, points, binary, model,
                 params if model == "OPENCV" else None)  # fmt: skip
    dataset = open_dataset(tmp_path / "c", test_every=4)
    assert dataset.kind == "colmap"
    by_name = {f"{c.name}.png": c for c in cameras}
    views = [*dataset.train, *dataset.test]
    assert len(views) == 9 and len(dataset.test) == 3  # names sorted, every 4th held out
    for view in views:
        original = by_name[view.image.name]
        assert np.allclose(view.camera.world_to_camera, original.world_to_camera, atol=1e-9)
        got = (view.camera.fx, view.camera.fy, view.camera.cx, view.camera.cy)
        assert np.allclose(got, (original.fx, original.fy, original.cx, original.cy))
    assert np.allclose(dataset.points[0], points[0]) and np.array_equal(
        dataset.points[1], points[1]
    )


def test_transforms_json_with_alpha_images(tmp_path):
    rgba = np.zeros((8, 10, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:4, :, 3] = 255  # top half opaque red, bottom half transparent
    frames = []
    for i in range(9):
        Image.fromarray(rgba).save(tmp_path / f"f{i}.png")
        c2w = np.eye(4)
        c2w[2, 3] = 3.0 + i
        frames.append({"file_path": f"f{i}.png", "transform_matrix": c2w.tolist()})
    write_transforms(tmp_path / "transforms.json", frames, camera_angle_x=1.0)
    dataset = open_dataset(tmp_path)
    assert dataset.kind == "transforms" and dataset.has_alpha and len(dataset.test) == 2
    from viewer.train.datasets import load_image
    from viewer.train.trainer import background_colour

    background = background_colour(TrainSettings(), dataset)
    assert background == (1.0, 1.0, 1.0)
    image = load_image(dataset.train[0].image, dataset.size, background)
    assert np.allclose(image[0, 0], (1, 0, 0)) and np.allclose(image[-1, -1], (1, 1, 1))
    camera = dataset.train[0].camera
    assert camera.fx == pytest.approx(0.5 * 10 / np.tan(0.5))
    # OpenGL camera-to-world (looking down -z) -> OpenCV: the camera looks down -z of the world
    assert np.allclose(camera.camera_to_world[:3, 2], (0, 0, -1))


def _bad_colmap(tmp_path, donut_data, **options) -> Path:
    cameras, images = nerf_views(donut_data)
    write_colmap(tmp_path / "c", cameras[:4], images[:4], None, **options)
    return tmp_path / "c"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "OPENCV", "params": (30.0, 30.0, 32.0, 32.0, 0.1, 0.0, 0.0, 0.0)}, "distortion"),
        (
            {"model": "OPENCV_FISHEYE", "params": (30.0, 30.0, 32.0, 32.0, 0, 0, 0, 0)},
            "not a pinhole",
        ),
        ({"model": "BOGUS", "params": (30.0, 32.0, 32.0)}, "unknown camera model"),
        ({"model": "BOGUS", "binary": False, "params": (1.0,)}, "unknown camera model"),
    ],
)
def test_colmap_camera_models_that_are_refused(tmp_path, donut_data, options, message):
    folder = _bad_colmap(tmp_path, donut_data, **options)
    with pytest.raises(SceneError, match=message):
        open_dataset(folder)


def test_missing_and_mixed_images_are_refused(tmp_path, donut_data):
    folder = _bad_colmap(tmp_path, donut_data)
    first = sorted((folder / "images").iterdir())[0]
    Image.open(first).resize((32, 32)).save(first)
    with pytest.raises(SceneError, match="mixed sizes"):
        open_dataset(folder)
    first.unlink()
    with pytest.raises(SceneError, match="is missing"):
        open_dataset(folder)
    (folder / "sparse" / "0" / "cameras.bin").unlink()
    with pytest.raises(SceneError, match=r"without cameras\.bin"):
        open_dataset(folder)
    with pytest.raises(SceneError, match="not a dataset"):
        open_dataset(tmp_path)


# -- densification --------------------------------------------------------------------------------


def _model(n: int, log_scale: float, opacity: float = 0.5):
    from viewer.train.model import GaussianModel, LearningRates

    tensors = {
        "means": torch.randn(n, 3, generator=torch.Generator().manual_seed(0)),
        "scales": torch.full((n, 3), log_scale),
        "quats": torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1),
        "opacities": torch.full((n,), float(np.log(opacity / (1 - opacity)))),
        "sh0": torch.rand(n, 1, 3),
        "shN": torch.zeros(n, 3, 3),
    }
    model = GaussianModel(tensors, extent=1.0, rates=LearningRates())
    loss = sum(p.square().sum() for p in model.params.values())
    loss.backward()
    for optimizer in model.optimizers.values():
        optimizer.step()  # Adam moments exist, sized N
    return model


def _observe(densifier: Densifier, n: int, grad: float) -> None:
    densifier.observe(torch.arange(n), torch.full((n, 2), grad / np.sqrt(2.0)))


def test_small_gaussians_with_high_gradients_are_cloned():
    model = _model(6, np.log(0.005))  # 0.5 % of the extent: small
    densifier = Densifier(TrainSettings(densify_grad=0.1), 1.0, 6, torch.device("cpu"))
    _observe(densifier, 4, grad=0.2)  # the first four seen, with a high gradient
    report = densifier.refine(model.params, model.optimizers, step=600)
    assert (report.cloned, report.split, report.pruned) == (4, 0, 0)
    assert model.count == 10 and densifier.grad2d.shape == (10,)
    assert torch.equal(model.params["means"][6:], model.params["means"][:4])
    for name, optimizer in model.optimizers.items():
        state = optimizer.state[model.params[name]]
        assert state["exp_avg"].shape == model.params[name].shape
        assert torch.count_nonzero(state["exp_avg"][6:]) == 0


def test_large_gaussians_with_high_gradients_are_split_in_two_smaller_ones():
    model = _model(3, np.log(0.5))  # large
    densifier = Densifier(TrainSettings(densify_grad=0.1), 1.0, 3, torch.device("cpu"))
    _observe(densifier, 1, grad=0.2)
    parent = model.params["scales"][0].detach().clone()
    report = densifier.refine(model.params, model.optimizers, step=600,
                              generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert (report.cloned, report.split) == (0, 1) and model.count == 4
    children = model.params["scales"][2:]
    assert torch.allclose(children, (parent - np.log(1.6)).expand(2, 3), atol=1e-6)
    assert not torch.equal(model.params["means"][2], model.params["means"][3])  # two samples


def test_transparent_and_after_a_reset_huge_gaussians_are_pruned_and_resets_lower_opacity():
    model = _model(4, np.log(0.005), opacity=0.5)
    with torch.no_grad():
        model.params["opacities"][0] = -10.0  # transparent
        model.params["scales"][1] = np.log(0.5)  # 50 % of the extent
    schedule = TrainSettings(opacity_reset_every=3000)
    densifier = Densifier(schedule, 1.0, 4, torch.device("cpu"))
    assert densifier.refine(model.params, model.optimizers, step=600).pruned == 1
    assert densifier.refine(model.params, model.optimizers, step=3100).pruned == 1
    assert model.count == 2
    densifier.reset_opacities(model.params, model.optimizers)
    assert torch.sigmoid(model.params["opacities"]).max() <= 2 * schedule.prune_opacity + 1e-6
    assert densifier.due(3000) == (True, True) and densifier.due(3001) == (False, False)


def test_max_gaussians_caps_densification():
    model = _model(10, np.log(0.005))
    densifier = Densifier(TrainSettings(densify_grad=0.1, max_gaussians=13), 1.0, 10,
                          torch.device("cpu"))  # fmt: skip
    _observe(densifier, 10, grad=0.2)
    assert densifier.refine(model.params, model.optimizers, step=600).cloned == 3
    assert model.count == 13


# -- training runs --------------------------------------------------------------------------------


def test_training_the_donut_reaches_25_db_on_held_out_views(tmp_path, donut_data):
    """100 steps from 3,000 of the dataset's seed points, 64x64, CPU reference renderer."""
    from viewer.formats import load_scene

    out = tmp_path / "out"
    result = run_cli(
        "train", str(donut_data), "--out", str(out), "--iterations", "100",
        "--init-count", "3000", "--train.sh-degree", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "results.json").read_text())
    assert summary["test_views"] == 3 and summary["renderer"] == "reference"
    assert summary["test_psnr"] >= 25.0, summary
    assert "held-out views: PSNR" in result.stdout
    scene = load_scene(out)  # what `splatscope view OUT` opens
    assert scene.count == 3000 and len(scene.cameras) == 27
    assert (out / "point_cloud" / "iteration_100" / "point_cloud.ply").is_file()
    assert (out / "chkpnt100.pth").is_file() and (out / "cfg_args").is_file()


def test_densifying_run_and_resume_from_its_checkpoint(tmp_path, donut_data):
    out = tmp_path / "out"
    common = ("--init-count", "300", "--densify-from", "2", "--densify-every", "2",
              "--densify-grad", "0", "--save-every", "4", "--train.sh-degree", "1")  # fmt: skip
    first = run_cli("train", str(donut_data), "--out", str(out), "--iterations", "4", *common)
    assert first.returncode == 0, first.stderr
    assert "cloned" in first.stderr  # densification notes between the progress lines
    state = torch.load(out / "chkpnt4.pth", weights_only=True)
    grown = state["model"]["params"]["means"].shape[0]
    assert state["step"] == 4 and grown > 300
    second = run_cli(
        "train", str(donut_data), "--out", str(out), "--iterations", "6",
        "--resume", str(out / "chkpnt4.pth"), *common,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert f"training {grown:,} Gaussians" in second.stdout
    assert (out / "point_cloud" / "iteration_6" / "point_cloud.ply").is_file()


def _one_error_line(result: subprocess.CompletedProcess, text: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("splatscope: error:")
    assert text in result.stderr, result.stderr


def test_bad_training_input_is_one_line_and_writes_nothing(tmp_path, donut_data):
    out = tmp_path / "out"
    broken = _bad_colmap(tmp_path, donut_data, model="OPENCV",
                         params=(30.0, 30.0, 32.0, 32.0, 0.1, 0.0, 0.0, 0.0))  # fmt: skip
    cases = [
        ((str(tmp_path / "nowhere"),), "no such folder"),
        ((str(broken),), "distortion"),
        ((str(donut_data), "--device", "cuda"), "no CUDA device"),
        ((str(donut_data), "--resume", str(donut_data / "points3d.ply")), "not a training"),
    ]
    if torch.cuda.is_available():
        cases = [c for c in cases if "cuda" not in c[0]]
    for args, message in cases:
        _one_error_line(run_cli("train", *args, "--out", str(out)), message)
        assert not out.exists()
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    _one_error_line(run_cli("train", str(donut_data), "--out", str(out)), "not empty")
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


# -- on a CUDA GPU --------------------------------------------------------------------------------


def _short_run(donut_data, backend: str):
    from viewer.train.backends import choose_backend
    from viewer.train.trainer import Trainer

    settings = TrainSettings(
        iterations=30, init_count=2000, sh_degree=0, backend=backend, device="cuda",
        densify_from=10, densify_every=10, densify_until=25, densify_grad=0.0,
    )  # fmt: skip
    device = torch.device("cuda")
    try:
        chosen = choose_backend(backend, device)
        trainer = Trainer(open_dataset(donut_data), settings, device, chosen)
        trainer.step()  # gsplat compiles its kernels on first use (needs a CUDA toolkit)
    except (RuntimeError, OSError, ImportError, SceneError) as exc:
        pytest.skip(f"the {backend} backend does not run here: {exc}")
    start = trainer.evaluate()
    while trainer.step_count < settings.iterations:
        trainer.step()
    end = trainer.evaluate()
    assert trainer.model.params["means"].is_cuda
    assert end.psnr > start.psnr
    return trainer


@pytest.mark.gpu
def test_reference_renderer_trains_on_cuda(donut_data):
    trainer = _short_run(donut_data, "reference")
    assert trainer.model.count != 2000  # densified on the GPU too


@pytest.mark.gpu
def test_gsplat_trains_with_its_strategy(donut_data):
    trainer = _short_run(donut_data, "gsplat")
    assert trainer.backend.name == "gsplat"
