"""One training run: images, model, rasterizer, loss, densification, evaluation, outputs.

`Trainer.step` runs one iteration on `batch` training images (a fresh random order each pass
over the images, as the original 3DGS): learning rates (the means' decayed), the SH degree of the
schedule, render, loss (1 - lambda) L1 + lambda (1 - SSIM) averaged over the batch, backward,
densification statistics, Adam, then clone/split/prune and opacity resets when due.
`LiveControls` (from the live view's panel, or their defaults) scale the learning rates, cap the
SH degree and switch densification.

Data parallel (viewer.train.distributed): every rank draws the same views and renders its share
of them; gradients, loss and densification statistics are summed over the ranks before they are
used, so that N ranks with B / N images each step as one process with B.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.image_metrics import compare, ssim_tensor
from viewer.scene import fitted_near_plane, robust_bounds
from viewer.settings import LiveControls, RenderSettings, TrainSettings
from viewer.train.backends import Backend, GsplatBackend, choose_backend
from viewer.train.datasets import Dataset, load_image
from viewer.train.distributed import Ranks
from viewer.train.model import (
    GaussianModel,
    LearningRates,
    initial_parameters,
    random_points,
    scene_extent,
)
from viewer.train.strategy import Densifier

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class StepResult:
    """One iteration's numbers.

    Attributes:
        step: the iteration just done (1-based). loss: its loss. psnr: of its training images.
        gaussians: in the model after it. sh_degree: trained in it. densified: a note of what
        densification did ("" when nothing).
    """

    step: int
    loss: float
    psnr: float
    gaussians: int
    sh_degree: int
    densified: str = ""


@dataclass(frozen=True)
class Evaluation:
    """Held-out views' quality: mean PSNR (dB) and SSIM over them, and how many."""

    psnr: float
    ssim: float
    views: int


def background_colour(settings: TrainSettings, dataset: Dataset) -> tuple[float, float, float]:
    """The training background: white for "auto" on images with alpha, else black."""
    white = settings.background == "white" or (settings.background == "auto" and dataset.has_alpha)
    return (1.0, 1.0, 1.0) if white else (0.0, 0.0, 0.0)


def scaled_camera(camera: Camera, downscale: int) -> Camera:
    """`camera` for images shrunk by `downscale` (each side rounded, at least 1 pixel)."""
    if downscale == 1:
        return camera
    width = max(1, round(camera.width / downscale))
    height = max(1, round(camera.height / downscale))
    sx, sy = width / camera.width, height / camera.height
    return dataclasses.replace(
        camera, width=width, height=height, fx=camera.fx * sx, fy=camera.fy * sy,
        cx=camera.cx * sx, cy=camera.cy * sy,
    )  # fmt: skip


def check_batch(batch: int, world: int, backend: Backend) -> None:
    """Refuse a batch the ranks cannot share equally, or one gsplat's strategy cannot densify.

    Raises:
        SceneError: naming --train.batch.
    """
    if batch % world:
        raise SceneError(
            f"--train.batch {batch}", f"does not divide among {world} processes (each renders "
            f"an equal share of a step's images): give a multiple of {world}",
        )  # fmt: skip
    if isinstance(backend, GsplatBackend) and batch > 1:
        raise SceneError(
            "--train.batch", "gsplat's strategy densifies from one image per step; use "
            "--train.backend reference for batches and several processes",
        )  # fmt: skip


def _gradient(value: torch.Tensor) -> torch.Tensor:
    """A parameter's gradient, zeros where the backward pass left none."""
    if value.grad is None:
        value.grad = torch.zeros_like(value)
    return value.grad


class Trainer:
    """A training run over a dataset; `step` until `settings.iterations`."""

    def __init__(
        self,
        dataset: Dataset,
        settings: TrainSettings,
        device: torch.device,
        backend: Backend | None = None,
        checkpoint: dict[str, Any] | None = None,
        ranks: Ranks | None = None,
    ) -> None:
        """Load the images, build the model (or restore it from `checkpoint`) and its optimizers.

        Raises:
            SceneError: when the settings ask for what the dataset lacks (points to start from),
                or a batch that the ranks cannot share.
        """
        self.dataset = dataset
        self.settings = settings
        self.device = device
        self.backend = backend or choose_backend(settings.backend, device)
        self.ranks = ranks or Ranks(device=device)
        check_batch(settings.batch, self.ranks.world, self.backend)
        self.background = background_colour(settings, dataset)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.train_cameras = [scaled_camera(v.camera, settings.downscale) for v in dataset.train]
        self.test_cameras = [scaled_camera(v.camera, settings.downscale) for v in dataset.test]
        size = (self.train_cameras[0].width, self.train_cameras[0].height)
        self.train_images = [self._image(v.image, size) for v in dataset.train]
        self.test_images = [self._image(v.image, size) for v in dataset.test]
        self.extent = scene_extent(list(dataset.cameras))
        rates = LearningRates(means=settings.position_lr)
        if checkpoint is not None:
            self.model = GaussianModel.from_state_dict(checkpoint["model"], rates, device)
            self.step_count = int(checkpoint["step"])
            self.generator.set_state(checkpoint["generator"])
            self.near_plane = float(checkpoint["near_plane"])
        else:
            xyz, rgb = self._initial_points()
            self.model = GaussianModel(
                initial_parameters(xyz, rgb, settings.sh_degree, device), self.extent, rates
            )
            self.step_count = 0
            self.near_plane = fitted_near_plane(*robust_bounds(xyz))
        self.densifier = Densifier(settings, self.extent, self.model.count, device)
        self._gsplat_strategy: Any = None
        self._gsplat_state: Any = None
        if isinstance(self.backend, GsplatBackend):
            self._start_gsplat_strategy()
        self._order: list[int] = []
        self.seconds = 0.0

    # -- setup ------------------------------------------------------------------------------------

    def _image(self, path: Path, size: tuple[int, int]) -> torch.Tensor:
        """[H, W, 3] uint8 image (composited on the background) kept on the CPU."""
        pixels = load_image(path, size, self.background)
        return torch.from_numpy((np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))

    def _initial_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The points the model starts from: the dataset's (subsampled), or random ones."""
        settings, points = self.settings, self.dataset.points
        if settings.init == "points" and points is None:
            raise SceneError(
                self.dataset.source,
                "has no points to start from (COLMAP points3D or points3d.ply); use --init random",
            )
        if settings.init == "random" or points is None or len(points[0]) == 0:
            cameras = list(self.dataset.cameras)
            return random_points(cameras, settings.init_count, self.generator)
        xyz, rgb = points
        if len(xyz) > settings.init_count:
            chosen = torch.randperm(len(xyz), generator=self.generator)[: settings.init_count]
            keep = chosen.sort().values.numpy()
            xyz, rgb = xyz[keep], rgb[keep]
        return xyz, rgb

    def _start_gsplat_strategy(self) -> None:
        from gsplat.strategy import DefaultStrategy

        s = self.settings
        self._gsplat_strategy = DefaultStrategy(
            prune_opa=s.prune_opacity, grow_grad2d=s.densify_grad, refine_start_iter=s.densify_from,
            refine_stop_iter=s.densify_until, refine_every=s.densify_every,
            reset_every=s.opacity_reset_every or 10**9,
        )  # fmt: skip
        self._gsplat_strategy.check_sanity(self.model.params, self.model.optimizers)
        self._gsplat_state = self._gsplat_strategy.initialize_state(scene_scale=self.extent)

    # -- one iteration ----------------------------------------------------------------------------

    def render_settings(self, sh_degree: int) -> RenderSettings:
        """What the trainer renders with (background, fitted near plane, SH degree)."""
        return RenderSettings(
            sh_degree=sh_degree, background=self.background, near_plane=self.near_plane
        )

    def sh_degree_at(self, step: int, controls: LiveControls) -> int:
        """SH degree trained at `step`: one more every `sh_degree_every` steps, capped."""
        scheduled = (step - 1) // self.settings.sh_degree_every
        return max(0, min(scheduled, self.model.sh_degree, controls.sh_degree))

    def _next_view(self) -> int:
        if not self._order:
            self._order = torch.randperm(len(self.train_images), generator=self.generator).tolist()
        return self._order.pop()

    def step(self, controls: LiveControls | None = None) -> StepResult:
        """One iteration on `batch` training images (this rank's share), steered by `controls`."""
        controls = controls or LiveControls()
        start = time.perf_counter()
        self.step_count += 1
        step = self.step_count
        model, settings, batch = self.model, self.settings, self.settings.batch
        model.set_learning_rates(step, settings.iterations, controls.lr_scale)
        views = self.ranks.share([self._next_view() for _ in range(batch)])
        degree = self.sh_degree_at(step, controls)
        gsplat = self._gsplat_strategy is not None and controls.densify
        densify = controls.densify and step <= self.settings.densify_until
        totals = torch.zeros(2, dtype=torch.float64, device=self.device)  # loss, squared error
        for index in views:
            target = self.train_images[index].to(self.device, torch.float32) / 255.0
            camera = self.train_cameras[index]
            rendered = self.backend.render(model.params, camera, self.render_settings(degree))
            if gsplat:
                self._gsplat_strategy.step_pre_backward(
                    model.params, model.optimizers, self._gsplat_state, step, rendered.info
                )
            loss = self._loss(rendered.image, target)
            (loss / batch).backward()
            if densify and not gsplat:  # a view's gradient as if it were alone in its step
                ids, grad_ndc = rendered.gradients()
                self.densifier.observe(ids, grad_ndc * batch)
            with torch.no_grad():
                error = ((rendered.image.detach().clamp(0, 1) - target) ** 2).mean()
                totals += torch.stack([loss.detach(), error]).double()
        grads = [_gradient(value) for value in model.params.values()]
        self.ranks.sum_([*grads, totals])
        note = ""
        for optimizer in model.optimizers.values():
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if gsplat:
            before = model.count
            self._gsplat_strategy.step_post_backward(
                model.params, model.optimizers, self._gsplat_state, step, rendered.info,
                packed=False,
            )  # fmt: skip
            if model.count != before:
                note = f"{before:,} -> {model.count:,} Gaussians"
        if controls.densify:
            note = self._densify(step, gsplat) or note
        mean_loss, mse = (totals / batch).tolist()
        psnr = 10.0 * math.log10(1.0 / mse) if mse > 0 else math.inf
        self.seconds += time.perf_counter() - start
        return StepResult(step, mean_loss, psnr, model.count, degree, note)

    def _loss(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """(1 - lambda) L1 + lambda (1 - SSIM) of one view."""
        lam = self.settings.lambda_dssim
        loss = (1.0 - lam) * (image - target).abs().mean()
        return loss + lam * (1.0 - ssim_tensor(image, target)) if lam > 0.0 else loss

    def _densify(self, step: int, gsplat: bool) -> str:
        """Refine and reset when due (reference backend; gsplat's strategy refines itself)."""
        refine, reset = self.densifier.due(step)
        note = ""
        params, optimizers = self.model.params, self.model.optimizers
        if refine and not gsplat:
            self.ranks.sum_([self.densifier.grad2d, self.densifier.visible])
            report = self.densifier.refine(params, optimizers, step, self.generator)
            note = (f"cloned {report.cloned:,}, split {report.split:,}, pruned "
                    f"{report.pruned:,}")  # fmt: skip
        if reset:  # gsplat 1.5's DefaultStrategy never resets (its test is always False)
            self.densifier.reset_opacities(params, optimizers)
            note = (note + "; " if note else "") + "opacities reset"
        return note

    # -- evaluation and outputs ------------------------------------------------------------------

    @torch.no_grad()
    def render(self, camera: Camera) -> np.ndarray:
        """[H, W, 3] float32 render of the model from `camera` at its full SH degree."""
        degree = min(self.model.sh_degree, (self.step_count - 1) // self.settings.sh_degree_every)
        settings = self.render_settings(max(degree, 0))
        image = self.backend.render(self.model.params, camera, settings).image
        return image.detach().to("cpu", torch.float32).numpy()

    def evaluate(self, views: str = "test") -> Evaluation:
        """Mean PSNR and SSIM over the held-out views (or the training views when asked)."""
        cameras, images = (
            (self.test_cameras, self.test_images)
            if views == "test"
            else (self.train_cameras, self.train_images)
        )
        scores = [
            compare(self.render(camera), image.numpy().astype(np.float32) / 255.0)
            for camera, image in zip(cameras, images, strict=True)
        ]
        if not scores:
            return Evaluation(math.nan, math.nan, 0)
        return Evaluation(
            float(np.mean([s[0] for s in scores])), float(np.mean([s[1] for s in scores])),
            len(scores),
        )  # fmt: skip

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything `Trainer(..., checkpoint=...)` needs to continue this run."""
        return {
            "version": CHECKPOINT_VERSION,
            "step": self.step_count,
            "model": self.model.state_dict(),
            "generator": self.generator.get_state(),
            "near_plane": self.near_plane,
            "settings": dataclasses.asdict(self.settings),
        }
