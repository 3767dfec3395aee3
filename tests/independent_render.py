"""An independent implementation of the original 3DGS image formation, for tests only.

The per-Gaussian half (world to camera, 3D covariance, EWA projection with the clamped Jacobian,
the 0.3 px^2 low-pass, the anti-aliasing compensation, SH colour) is gsplat's pure-torch code
(`gsplat/cuda/_torch_impl.py`), which runs on the CPU in float64 without CUDA. That file is loaded
on its own, without importing the `gsplat` package, so nothing can trigger gsplat's CUDA JIT
build (gsplat 1.5.3's package import does not either, but that is its business, not ours).

The per-pixel half is written here as plainly as possible: every pixel against every Gaussian,
front to back, one Gaussian at a time, with the original's rules
(alpha = min(0.99, o exp(-0.5 d^T S^-1 d)), skip alpha < 1/255, stop before T falls below 1e-4,
background added with the final T). It composes densely, so gsplat's 3.33-sigma radius clip and
its bounding-box cull play no part: only the near plane culls, as in the original.

Conventions matched to the original (and to `viewer.reference`): the near plane is passed in
(gsplat's default is 0.01, the original's 0.2); pixel centres at (i + 0.5, j + 0.5);
colour = max(SH + 0.5, 0). gsplat clamps x/z to [-(cx/fx + 0.3 tan), (W - cx)/fx + 0.3 tan],
which is the original's +-1.3 tan(half fov) only for a centred principal point:
`render_independent` refuses other cameras rather than test a different rule.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

MAX_ALPHA = 0.99
MIN_ALPHA = 1.0 / 255.0
MIN_TRANSMITTANCE = 1e-4
LOWPASS = 0.3
_NEEDED = ("_quat_scale_to_covar_preci", "_fully_fused_projection", "_spherical_harmonics")
_cache: dict[str, tuple[ModuleType | None, str]] = {}


def gsplat_torch_impl() -> tuple[ModuleType | None, str]:
    """(gsplat's `cuda/_torch_impl.py` loaded as a lone module, "gsplat X.Y.Z"), or (None, why).

    `importlib.util.find_spec("gsplat")` locates the package without running its `__init__`;
    `_torch_impl.py` itself imports only torch and typing_extensions at module level.
    """
    if "impl" not in _cache:
        _cache["impl"] = _load_torch_impl()
    return _cache["impl"]


def _load_torch_impl() -> tuple[ModuleType | None, str]:
    spec = importlib.util.find_spec("gsplat")
    if spec is None or not spec.submodule_search_locations:
        return None, "gsplat is not installed (pip install gsplat, or the dev extra)"
    try:
        version = importlib.metadata.version("gsplat")
    except importlib.metadata.PackageNotFoundError:  # a source tree on the path
        version = "(version unknown)"
    path = Path(next(iter(spec.submodule_search_locations))) / "cuda" / "_torch_impl.py"
    module_spec = importlib.util.spec_from_file_location("_gsplat_torch_impl_only", path)
    if not path.is_file() or module_spec is None or module_spec.loader is None:
        return None, f"gsplat {version} has no cuda/_torch_impl.py"
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    missing = [name for name in _NEEDED if not hasattr(module, name)]
    if missing:
        return None, f"gsplat {version}'s _torch_impl.py lacks {', '.join(missing)}"
    return module, f"gsplat {version}"


def _as64(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64)
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def render_independent(
    params: dict,
    camera,
    *,
    near_plane: float,
    antialias: bool = False,
    sh_degree: int = 3,
    splat_scale: float = 1.0,
    background=(0.0, 0.0, 0.0),
) -> np.ndarray:
    """[H, W, 3] float64 image of Gaussians as the original 3DGS rasterizer forms it.

    Args:
        params: means [N, 3], scales [N, 3] (activated), rotations [N, 4] (w, x, y, z),
            opacities [N] (activated), sh [N, K, 3]; numpy arrays or torch tensors.
        camera: anything with width, height, fx, fy, cx, cy and a 4x4 world_to_camera
            (OpenCV axes); the principal point must be the image centre.
        near_plane: Gaussians with camera z <= this are culled (the only cull).
        antialias: scale opacity by sqrt(det(cov2d) / det(cov2d + 0.3 I)).
        sh_degree: highest SH degree evaluated (capped by the coefficients given).
        splat_scale: multiplier on every scale.
        background: RGB added with the final transmittance.
    """
    impl, why = gsplat_torch_impl()
    if impl is None:
        raise RuntimeError(why)
    width, height = int(camera.width), int(camera.height)
    if abs(camera.cx - width / 2) > 1e-9 or abs(camera.cy - height / 2) > 1e-9:
        raise ValueError("gsplat's Jacobian clamp is the original's only for a centred camera")
    means = _as64(params["means"])
    scales = _as64(params["scales"]) * splat_scale
    quats = _as64(params["rotations"])
    opacities = _as64(params["opacities"])
    coeffs = _as64(params["sh"])
    viewmat = _as64(camera.world_to_camera)
    intrinsics = torch.tensor(
        [[camera.fx, 0.0, camera.cx], [0.0, camera.fy, camera.cy], [0.0, 0.0, 1.0]],
        dtype=torch.float64,
    )

    covars, _ = impl._quat_scale_to_covar_preci(quats, scales, compute_preci=False)
    _radii, means2d, depths, conics, compensations = impl._fully_fused_projection(
        means,
        covars,
        viewmat[None],
        intrinsics[None],
        width,
        height,
        eps2d=LOWPASS,
        near_plane=near_plane,
        calc_compensations=antialias,
    )
    means2d, depths, conics = means2d[0], depths[0], conics[0]  # [N, 2], [N], [N, 3]
    if antialias:
        opacities = opacities * compensations[0]

    degree = min(sh_degree, math.isqrt(coeffs.shape[1]) - 1)
    position = torch.linalg.inv(viewmat)[:3, 3]
    sh = impl._spherical_harmonics(degree, means - position, coeffs)  # [N, 3]
    colours = (sh + 0.5).clamp(min=0.0)

    # The only cull of the original: camera z at or below the near plane. No other test.
    kept = (depths > near_plane).nonzero().squeeze(1)
    order = kept[torch.argsort(depths[kept], stable=True)]  # front to back

    # Every pixel against every kept Gaussian, front to back, one Gaussian at a time (float64).
    ys, xs = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    px, py = xs.reshape(-1), ys.reshape(-1)  # [Q] pixel centres
    centres = means2d[order].numpy()
    inverse = conics[order].numpy()  # (a, b, c) of [[a, b], [b, c]] = cov2d^-1
    opacity = opacities[order].numpy()
    rgb = colours[order].numpy()
    colour = np.zeros((px.shape[0], 3))
    transmittance = np.ones(px.shape[0])
    active = np.ones(px.shape[0], dtype=bool)
    for g in range(order.shape[0]):
        dx, dy = px - centres[g, 0], py - centres[g, 1]
        a, b, c = inverse[g]
        power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
        alpha = np.minimum(MAX_ALPHA, opacity[g] * np.exp(power))
        hit = active & (power <= 0.0) & (alpha >= MIN_ALPHA)
        after = transmittance * (1.0 - alpha)
        stop = hit & (after < MIN_TRANSMITTANCE)  # this Gaussian is not blended; the pixel is done
        blend = hit & ~stop
        colour += np.where(blend, alpha * transmittance, 0.0)[:, None] * rgb[g]
        transmittance = np.where(blend, after, transmittance)
        active &= ~stop
    image = colour + transmittance[:, None] * np.asarray(background, dtype=np.float64)
    return image.reshape(height, width, 3)


# --- helpers shared by the independent-check and culling tests ---------------------------------


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1] (inf when equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def params64(scene) -> dict[str, torch.Tensor]:
    """A GaussianScene's arrays as float64 tensors, quaternions renormalised in float64.

    Both renderers then see exactly the same unit quaternions (the reference takes them as unit,
    gsplat normalises), so a float64 comparison can be held to ~1e-12.
    """
    params = {name: tensor.to(torch.float64) for name, tensor in scene.to_torch().items()}
    rotations = params["rotations"]
    params["rotations"] = rotations / rotations.norm(dim=1, keepdim=True)
    return params


def dc_for(rgb) -> np.ndarray:
    """[N, 1, 3] SH degree-0 coefficients that give these colours (colour = C0 dc + 0.5)."""
    return ((np.asarray(rgb, np.float64) - 0.5) / 0.28209479177387814).reshape(-1, 1, 3)


def axis_camera(width: int = 64, height: int = 48, fov_y_degrees: float = 60.0):
    """A centred pinhole camera at the origin looking down +z (world axes = OpenCV axes)."""
    from viewer.camera import Camera

    focal = height / (2.0 * math.tan(math.radians(fov_y_degrees) / 2.0))
    return Camera(width, height, focal, focal, width / 2.0, height / 2.0, np.eye(4))


def off_view_ratio(means: np.ndarray, camera) -> np.ndarray:
    """[N] how far each centre lies from the view axis, in units of the half field of view:
    max(|x/z| / tan(half fov x), |y/z| / tan(half fov y)) in camera space (> 1: outside)."""
    w2c = camera.world_to_camera
    t = np.asarray(means, np.float64) @ w2c[:3, :3].T + w2c[:3, 3]
    tan_x, tan_y = camera.tan_half_fov
    return np.maximum(np.abs(t[:, 0] / t[:, 2]) / tan_x, np.abs(t[:, 1] / t[:, 2]) / tan_y)


def inside_out_shell(rng: np.random.Generator, camera, shell: int = 60, inside: int = 40):
    """A camera's-eye inside-out scene: `shell` large flat splats on a sphere of radius ~2 around
    the camera of `axis_camera`, every centre in front of it but at least 2.4 half fields of
    view off the axis (so outside the frustum and beyond a 2.0 guard band), tangent to the
    sphere; plus `inside` small splats inside the frustum (none when 0). SH degree 1.
    """
    from viewer.scene import GaussianScene

    tan_x, tan_y = camera.tan_half_fov
    polar_min = math.degrees(math.atan(2.4 * max(tan_x, tan_y)))
    theta = np.radians(rng.uniform(polar_min, 86.0, shell))
    phi = rng.uniform(0.0, 2.0 * math.pi, shell)
    normal = np.stack(
        [np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1
    )
    means = normal * rng.uniform(1.8, 2.2, shell)[:, None]
    # the rotation taking local z to the sphere's normal: a disc tangent to the sphere
    quats = np.stack([1.0 + normal[:, 2], -normal[:, 1], normal[:, 0], np.zeros(shell)], axis=1)
    quats /= np.linalg.norm(quats, axis=1, keepdims=True)
    scales = np.stack(
        [rng.uniform(0.4, 1.0, shell), rng.uniform(0.4, 1.0, shell), np.full(shell, 0.03)], axis=1
    )
    opacities = rng.uniform(0.3, 0.8, shell)
    sh = rng.normal(scale=0.3, size=(shell, 4, 3))
    sh[:, 0] = rng.normal(scale=0.8, size=(shell, 3))
    if inside:
        in_means = np.column_stack(
            [
                rng.uniform(-0.2, 0.2, inside),
                rng.uniform(-0.15, 0.15, inside),
                rng.uniform(0.35, 0.7, inside),
            ]
        )
        means = np.vstack([means, in_means])
        scales = np.vstack([scales, np.exp(rng.normal(math.log(0.04), 0.4, (inside, 3)))])
        quats = np.vstack([quats, rng.normal(size=(inside, 4))])
        opacities = np.concatenate([opacities, rng.uniform(0.3, 1.0, inside)])
        sh = np.concatenate([sh, rng.normal(scale=0.5, size=(inside, 4, 3))])
    return GaussianScene.from_arrays(means, scales, quats, opacities, sh, source="shell")


def render_on_gpu(renderer, scene, camera, settings) -> tuple[np.ndarray, int]:
    """([H, W, 3] float32 GPU image, splats the preprocess pass counted visible) of one frame."""
    from viewer.render.frame_inputs import FrameInputs
    from viewer.render.gpu_scene import GpuScene
    from viewer.render.layout import COUNTER_VISIBLE

    gpu_scene = GpuScene.from_scene(renderer.ctx, scene)
    try:
        image = renderer.render_image(gpu_scene, FrameInputs(camera), settings)
    finally:
        gpu_scene.release()
    if renderer.backend == "cpu" and not renderer.raster_settings.validate:
        assert renderer.host_preprocess.covered  # the cpu backend's own frame, made on the host
    return image, int(renderer.frame.read_counters()[COUNTER_VISIBLE])
