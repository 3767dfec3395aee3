"""CPU reference renderer in torch: the oracle for the GPU pipeline, differentiable for training.

It follows the original 3DGS rasterizer (docs/design_log.md, "Image formation"): cull, project
with the clamped perspective Jacobian, SH colour, sort by camera depth, then per pixel
front-to-back alpha blending with the 1/255 skip and the 1e-4 transmittance stop. The image is
processed in square pixel tiles, each with only the Gaussians whose alpha >= 1/255 footprint
reaches it;
`_render_reference_dense` evaluates every Gaussian at every pixel and must give the same image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from viewer.camera import Camera
from viewer.scene import (
    DEGREE_FOR_SH_COEFFS,
    GaussianScene,
    fitted_near_plane,
    robust_bounds,
)
from viewer.settings import RenderSettings
from viewer.sh import eval_sh

LOWPASS = 0.3  # px^2 added to the 2D covariance diagonal
JACOBIAN_CLAMP = 1.3  # x/z and y/z are clamped to this multiple of tan(half fov) in the Jacobian
MAX_ALPHA = 0.99
MIN_ALPHA = 1.0 / 255.0
MIN_TRANSMITTANCE = 1e-4
FOOTPRINT_MARGIN = 0.01  # px added around the exact footprint box against rounding
DEFAULT_SETTINGS = RenderSettings()


@dataclass(frozen=True)
class Projection:
    """The Gaussians that survive culling, after preprocessing, sorted front to back.

    Attributes:
        ids: [P] int64 index of each into the input arrays.
        depths: [P] camera-space z (ascending).
        means2d: [P, 2] projected centres (u, v) in pixels.
        conics: [P, 3] (a, b, c) of the inverse 2D covariance [[a, b], [b, c]] (low-pass included).
        cov2d: [P, 3] (xx, xy, yy) of the 2D covariance, low-pass included.
        opacities: [P] opacity (after the anti-aliasing compensation when it is on).
        colors: [P, 3] RGB, max(SH + 0.5, 0).
        extents: [P, 2] half-extents in pixels of the box holding every pixel with alpha >= 1/255.
    """

    ids: torch.Tensor
    depths: torch.Tensor
    means2d: torch.Tensor
    conics: torch.Tensor
    cov2d: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor
    extents: torch.Tensor


@dataclass(frozen=True)
class ReferenceOutput:
    """A reference render.

    Attributes:
        image: [H, W, 3] RGB with the background blended in by the final transmittance.
        transmittance: [H, W] final transmittance T.
        projection: the visible Gaussians (depth, footprint, colour), front to back.
    """

    image: torch.Tensor
    transmittance: torch.Tensor
    projection: Projection


def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """[N, 4] quaternions (w, x, y, z), assumed unit -> [N, 3, 3] rotation matrices."""
    w, x, y, z = q.unbind(-1)
    rows = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def project_gaussians(
    params: dict[str, torch.Tensor],
    camera: Camera,
    settings: RenderSettings = DEFAULT_SETTINGS,
    dtype: torch.dtype = torch.float32,
) -> Projection:
    """Cull, project and colour the Gaussians; the per-Gaussian half of the renderer.

    Args:
        params: means [N, 3], scales [N, 3] (activated), rotations [N, 4] (unit w, x, y, z),
            opacities [N], sh [N, K, 3].
        camera: the pinhole camera.
        settings: SH degree, splat scale, anti-aliasing, near plane and guard band.
        dtype: computation dtype.

    Returns:
        The surviving Gaussians sorted by camera depth (stable, so ties keep input order).
    """
    means = params["means"].to(dtype)  # [N, 3]
    w2c = torch.as_tensor(camera.world_to_camera, dtype=dtype, device=means.device)  # [4, 4]
    view = w2c[:3, :3]  # [3, 3]
    t = means @ view.T + w2c[:3, 3]  # [N, 3] camera space
    tan_x, tan_y = camera.tan_half_fov
    with torch.no_grad():
        tz = t[:, 2]
        in_front = tz > (settings.near_plane or _fitted_near_plane(params["means"]))
        safe_z = torch.where(in_front, tz, 1.0)
        keep = in_front
        if settings.guard_band > 0.0:  # opt-in centre cull; splats off the image add nothing
            keep = (
                keep
                & ((t[:, 0] / safe_z).abs() <= settings.guard_band * tan_x)
                & ((t[:, 1] / safe_z).abs() <= settings.guard_band * tan_y)
            )
    ids = keep.nonzero().squeeze(1)  # [P0] int64
    t = t[ids]

    # 2D covariance: J W Sigma W^T J^T with the Jacobian at the clamped x/z, y/z.
    tx, ty, tz = t.unbind(-1)
    lim_x, lim_y = JACOBIAN_CLAMP * tan_x, JACOBIAN_CLAMP * tan_y
    jx = (tx / tz).clamp(-lim_x, lim_x) * tz
    jy = (ty / tz).clamp(-lim_y, lim_y) * tz
    zero = torch.zeros_like(tz)
    jacobian = torch.stack(
        [
            torch.stack([camera.fx / tz, zero, -camera.fx * jx / (tz * tz)], dim=-1),
            torch.stack([zero, camera.fy / tz, -camera.fy * jy / (tz * tz)], dim=-1),
        ],
        dim=-2,
    )  # [P0, 2, 3]
    scales = params["scales"].to(dtype)[ids] * settings.splat_scale  # [P0, 3]
    rs = quaternion_to_matrix(params["rotations"].to(dtype)[ids]) * scales[:, None, :]  # R S
    half = jacobian @ view @ rs  # [P0, 2, 3]; cov2d = half half^T
    cov = half @ half.transpose(1, 2)  # [P0, 2, 2]
    xx, xy, yy = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    det_before = xx * yy - xy * xy
    xx, yy = xx + LOWPASS, yy + LOWPASS
    det = xx * yy - xy * xy

    opacity = params["opacities"].to(dtype)[ids]  # [P0]
    if settings.antialias:
        ratio = det_before / torch.where(det > 0, det, 1.0)
        positive = ratio > 0
        opacity = opacity * torch.where(positive, torch.where(positive, ratio, 1.0).sqrt(), 0.0)
    with torch.no_grad():
        survivors = ((det > 0) & (opacity >= MIN_ALPHA)).nonzero().squeeze(1)
        order = survivors[torch.argsort(tz[survivors], stable=True)]  # [P] front to back

    tx, ty, tz = tx[order], ty[order], tz[order]
    xx, xy, yy, det, opacity = xx[order], xy[order], yy[order], det[order], opacity[order]
    ids = ids[order]
    means2d = torch.stack([camera.fx * tx / tz + camera.cx, camera.fy * ty / tz + camera.cy], -1)
    conics = torch.stack([yy / det, -xy / det, xx / det], dim=-1)  # [P, 3]
    colors = _colors(params["sh"].to(dtype)[ids], means[ids], camera, settings.sh_degree)
    with torch.no_grad():
        radius2 = 2.0 * torch.log(255.0 * opacity)  # footprint: d^T conic d <= radius2
        extents = torch.stack([(radius2 * xx).sqrt(), (radius2 * yy).sqrt()], dim=-1)
    return Projection(
        ids=ids,
        depths=tz,
        means2d=means2d,
        conics=conics,
        cov2d=torch.stack([xx, xy, yy], dim=-1),
        opacities=opacity,
        colors=colors,
        extents=extents,
    )


def _fitted_near_plane(means: torch.Tensor) -> float:
    """The near plane `near_plane` 0 stands for, from the centres as GaussianScene computes it."""
    return fitted_near_plane(*robust_bounds(means.detach().to("cpu", torch.float32).numpy()))


def _colors(sh: torch.Tensor, means: torch.Tensor, camera: Camera, sh_degree: int) -> torch.Tensor:
    """[P, 3] colours max(SH(dir) + 0.5, 0) with dir from the camera centre to each mean."""
    scene_degree = DEGREE_FOR_SH_COEFFS.get(sh.shape[1])
    if scene_degree is None:
        raise ValueError(f"sh must hold 1, 4, 9 or 16 coefficients, got {sh.shape[1]}")
    position = torch.as_tensor(camera.position, dtype=means.dtype, device=means.device)  # [3]
    dirs = means - position
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)  # [P, 3]
    return (eval_sh(sh, dirs, min(sh_degree, scene_degree)) + 0.5).clamp(min=0.0)


def _blend_weights(
    pixels: torch.Tensor, proj: Projection, select: torch.Tensor | slice = slice(None)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Front-to-back blending weights alpha * T of the selected Gaussians at some pixel centres.

    Args:
        pixels: [Q, 2] pixel centres (x, y).
        proj: the projected Gaussians.
        select: indices (ascending, so still front to back) or a slice of `proj`.

    Returns:
        ([Q, M] weight of each selected Gaussian at each pixel, 0 where it is not blended;
        [Q] final transmittance).
    """
    means2d, conics = proj.means2d[select], proj.conics[select]  # [M, 2], [M, 3]
    d = pixels[:, None, :] - means2d[None, :, :]  # [Q, M, 2]
    dx, dy = d[..., 0], d[..., 1]
    a, b, c = conics.unbind(-1)
    power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy  # [Q, M]
    alpha = (proj.opacities[select] * power.clamp(max=0.0).exp()).clamp(max=MAX_ALPHA)
    alpha = torch.where((power <= 0.0) & (alpha >= MIN_ALPHA), alpha, 0.0)
    keep = 1.0 - alpha  # [Q, M]
    before = torch.cumprod(torch.cat([torch.ones_like(keep[:, :1]), keep[:, :-1]], 1), dim=1)
    with torch.no_grad():
        # T only falls, so this mask is a prefix: the first Gaussian that would take T below
        # 1e-4 and every later one are dropped.
        blended = before * keep >= MIN_TRANSMITTANCE
    weights = torch.where(blended, alpha * before, 0.0)  # [Q, M]
    transmittance = torch.where(blended, keep, 1.0).prod(dim=1)  # [Q]
    return weights, transmittance


def _composite(
    pixels: torch.Tensor, proj: Projection, select: torch.Tensor | slice = slice(None)
) -> tuple[torch.Tensor, torch.Tensor]:
    """([Q, 3] colour without background, [Q] final transmittance) at pixel centres [Q, 2]."""
    if proj.means2d[select].shape[0] == 0:
        return pixels.new_zeros(pixels.shape[0], 3), pixels.new_ones(pixels.shape[0])
    weights, transmittance = _blend_weights(pixels, proj, select)
    return weights @ proj.colors[select], transmittance


def _pixel_centres(
    x0: int, x1: int, y0: int, y1: int, dtype: torch.dtype, device: torch.device | None = None
) -> torch.Tensor:
    """[(y1 - y0) * (x1 - x0), 2] centres (i + 0.5, j + 0.5) of a pixel block, row-major."""
    ys, xs = torch.meshgrid(
        torch.arange(y0, y1, dtype=dtype, device=device) + 0.5,
        torch.arange(x0, x1, dtype=dtype, device=device) + 0.5,
        indexing="ij",
    )
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1)


def _tile_pairs(
    proj: Projection, camera: Camera, tile_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every (tile, Gaussian) pair whose footprint reaches the tile, by tile, in depth order.

    Returns:
        ([pairs] tile index (row-major), [pairs] Gaussian index into `proj`, ascending within a
        tile; [tiles] pairs per tile).
    """
    tiles_x = math.ceil(camera.width / tile_size)
    tiles_y = math.ceil(camera.height / tile_size)
    with torch.no_grad():
        centre = proj.means2d.detach().double() - 0.5  # pixel index whose centre is at (u, v)
        reach = proj.extents.double() + FOOTPRINT_MARGIN  # [P, 2]
        device = centre.device
        size = torch.tensor([camera.width, camera.height], device=device)
        first = (centre - reach).ceil().long().clamp_min(0)
        last = torch.minimum((centre + reach).floor().long(), size - 1)
        nonempty = (first <= last).all(dim=1)
        tile_first = first.div(tile_size, rounding_mode="floor")  # [P, 2]
        tile_span = last.div(tile_size, rounding_mode="floor") - tile_first + 1  # [P, 2]
        counts = torch.where(nonempty, tile_span[:, 0] * tile_span[:, 1], 0)  # [P]
        gaussian_from_pair = torch.repeat_interleave(
            torch.arange(counts.shape[0], device=device), counts
        )
        offsets = torch.cumsum(counts, 0) - counts
        local = (
            torch.arange(gaussian_from_pair.shape[0], device=device) - offsets[gaussian_from_pair]
        )
        span_x = tile_span[gaussian_from_pair, 0]
        tile_xy = tile_first[gaussian_from_pair] + torch.stack(
            [local % span_x, local.div(span_x, rounding_mode="floor")], dim=-1
        )
        tile_of_pair = tile_xy[:, 1] * tiles_x + tile_xy[:, 0]
        tile_of_pair, order = torch.sort(tile_of_pair, stable=True)  # keeps depth order per tile
        per_tile = torch.bincount(tile_of_pair, minlength=tiles_x * tiles_y)
        return tile_of_pair, gaussian_from_pair[order], per_tile


def _tile_lists(proj: Projection, camera: Camera, tile_size: int) -> list[torch.Tensor]:
    """Per tile (row-major): ascending indices of the Gaussians whose footprint reaches it."""
    _, gaussians, per_tile = _tile_pairs(proj, camera, tile_size)
    return list(torch.split(gaussians, per_tile.tolist()))


def _finish(
    rgb: torch.Tensor, transmittance: torch.Tensor, settings: RenderSettings, proj: Projection
) -> ReferenceOutput:
    """Blend in the background with the final transmittance."""
    background = torch.as_tensor(settings.background, dtype=rgb.dtype, device=rgb.device)  # [3]
    image = rgb + transmittance[..., None] * background
    return ReferenceOutput(image=image, transmittance=transmittance, projection=proj)


def render_reference(
    params: dict[str, torch.Tensor],
    camera: Camera,
    settings: RenderSettings = DEFAULT_SETTINGS,
    *,
    dtype: torch.dtype = torch.float32,
    tile_size: int = 8,
) -> ReferenceOutput:
    """Render Gaussians as the original 3DGS rasterizer does, tile by tile; differentiable.

    Args:
        params: means [N, 3], scales [N, 3] (activated), rotations [N, 4] (unit w, x, y, z),
            opacities [N], sh [N, K, 3].
        camera: the pinhole camera (OpenCV axes).
        settings: render settings shared with the GPU pipeline.
        dtype: computation dtype (float32 like the GPU; float64 for gradient checks).
        tile_size: side of the square pixel tiles; changes speed, not the image.

    Returns:
        The image [H, W, 3], the final transmittance [H, W] and the projected Gaussians.
    """
    proj = project_gaussians(params, camera, settings, dtype)
    height, width = camera.height, camera.width
    rgb = torch.zeros(height, width, 3, dtype=dtype)
    transmittance = torch.ones(height, width, dtype=dtype)
    tiles_x = math.ceil(width / tile_size)
    for tile, select in enumerate(_tile_lists(proj, camera, tile_size)):
        if select.numel() == 0:
            continue
        y0, x0 = (tile // tiles_x) * tile_size, (tile % tiles_x) * tile_size
        y1, x1 = min(y0 + tile_size, height), min(x0 + tile_size, width)
        tile_rgb, tile_t = _composite(_pixel_centres(x0, x1, y0, y1, dtype), proj, select)
        rgb[y0:y1, x0:x1] = tile_rgb.reshape(y1 - y0, x1 - x0, 3)
        transmittance[y0:y1, x0:x1] = tile_t.reshape(y1 - y0, x1 - x0)
    return _finish(rgb, transmittance, settings, proj)


def render_reference_batched(
    params: dict[str, torch.Tensor],
    camera: Camera,
    settings: RenderSettings = DEFAULT_SETTINGS,
    *,
    dtype: torch.dtype = torch.float32,
    tile_size: int = 16,
    max_entries: int = 1 << 21,
) -> ReferenceOutput:
    """`render_reference` with the tiles composited in batches: the same image, fewer torch calls.

    The per-tile loop of `render_reference` issues a few dozen small torch operations per tile;
    training on the CPU spends most of its time there. Here tiles of similar Gaussian counts are
    stacked into [tiles, pixels, Gaussians] tensors padded with Gaussians of alpha 0 (which blend
    nothing and keep T): a batch holds tiles of more than half its largest count, so padding at
    most doubles the work, and at most `max_entries` entries. Every pixel blends the same
    Gaussians in the same order with the same arithmetic, so the image and its gradients match
    the per-tile renderer's to float rounding (tests/test_reference_batched.py).

    Args:
        params: as `render_reference`.
        camera: the pinhole camera (OpenCV axes).
        settings: render settings shared with the GPU pipeline.
        dtype: computation dtype.
        tile_size: side of the square pixel tiles.
        max_entries: most (pixel, Gaussian) pairs evaluated at once (bounds the memory).

    Returns:
        The image [H, W, 3], the final transmittance [H, W] and the projected Gaussians.
    """
    proj = project_gaussians(params, camera, settings, dtype)
    height, width = camera.height, camera.width
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    tiles = tiles_x * tiles_y
    tile_of_pair, gaussians, counts = _tile_pairs(proj, camera, tile_size)
    device = proj.means2d.device
    rank = torch.arange(tile_of_pair.shape[0], device=device)
    rank -= (torch.cumsum(counts, 0) - counts)[tile_of_pair]
    local = _pixel_centres(0, tile_size, 0, tile_size, dtype, device)  # [Q, 2] within a tile
    pixels_per_tile = local.shape[0]
    rgb_parts: list[torch.Tensor] = []
    t_parts: list[torch.Tensor] = []
    tile_parts: list[torch.Tensor] = []
    order = torch.argsort(counts, descending=True, stable=True)
    order = order[counts[order] > 0]  # tiles with Gaussians, most first
    row_of_tile = torch.full((tiles,), -1, dtype=torch.long, device=device)
    start = 0
    while start < order.shape[0]:
        widest = int(counts[order[start]])  # the batch's tiles hold at most this many
        size = max(1, max_entries // (pixels_per_tile * widest))
        batch = order[start : start + size]
        batch = batch[counts[batch] * 2 > widest]  # padding at most doubles the work
        start += batch.shape[0]
        row_of_tile.fill_(-1)
        row_of_tile[batch] = torch.arange(batch.shape[0], device=device)
        rows = row_of_tile[tile_of_pair]
        mine = rows >= 0
        select = torch.zeros(batch.shape[0], widest, dtype=torch.long, device=device)
        valid = torch.zeros(batch.shape[0], widest, dtype=torch.bool, device=device)
        select[rows[mine], rank[mine]] = gaussians[mine]
        valid[rows[mine], rank[mine]] = True
        origin = torch.stack([batch % tiles_x, batch // tiles_x], -1).to(dtype) * tile_size
        pixels = origin[:, None, :] + local[None]  # [B, Q, 2]
        rgb, transmittance = _composite_batch(pixels, proj, select, valid)
        rgb_parts.append(rgb)
        t_parts.append(transmittance)
        tile_parts.append(batch)
    rgb_tiles = torch.zeros(tiles, pixels_per_tile, 3, dtype=dtype, device=device)
    t_tiles = torch.ones(tiles, pixels_per_tile, dtype=dtype, device=device)
    if tile_parts:
        ids = torch.cat(tile_parts)
        rgb_tiles = rgb_tiles.index_copy(0, ids, torch.cat(rgb_parts))
        t_tiles = t_tiles.index_copy(0, ids, torch.cat(t_parts))

    def untile(values: torch.Tensor) -> torch.Tensor:
        """[tiles, Q, ...] -> [H, W, ...]."""
        rest = values.shape[2:]
        grid = values.reshape(tiles_y, tiles_x, tile_size, tile_size, *rest)
        image = grid.transpose(1, 2).reshape(tiles_y * tile_size, tiles_x * tile_size, *rest)
        return image[:height, :width]

    return _finish(untile(rgb_tiles), untile(t_tiles), settings, proj)


def _composite_batch(
    pixels: torch.Tensor, proj: Projection, select: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """`_composite` of B tiles at once.

    Args:
        pixels: [B, Q, 2] pixel centres of each tile.
        proj: the projected Gaussians.
        select: [B, M] indices into `proj`, ascending where `valid` (padding after them).
        valid: [B, M] which entries of `select` are Gaussians rather than padding.

    Returns:
        ([B, Q, 3] colour without background, [B, Q] final transmittance).
    """
    means2d, conics = proj.means2d[select], proj.conics[select]  # [B, M, 2], [B, M, 3]
    d = pixels[:, :, None, :] - means2d[:, None, :, :]  # [B, Q, M, 2]
    dx, dy = d[..., 0], d[..., 1]
    a, b, c = (v[:, None, :] for v in conics.unbind(-1))
    power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy  # [B, Q, M]
    opacity = proj.opacities[select][:, None, :]
    alpha = (opacity * power.clamp(max=0.0).exp()).clamp(max=MAX_ALPHA)
    alpha = torch.where(valid[:, None, :] & (power <= 0.0) & (alpha >= MIN_ALPHA), alpha, 0.0)
    keep = 1.0 - alpha
    before = torch.cumprod(torch.cat([torch.ones_like(keep[..., :1]), keep[..., :-1]], -1), -1)
    with torch.no_grad():
        blended = before * keep >= MIN_TRANSMITTANCE  # a prefix, as in `_blend_weights`
    weights = torch.where(blended, alpha * before, 0.0)  # [B, Q, M]
    transmittance = torch.where(blended, keep, 1.0).prod(dim=-1)  # [B, Q]
    return weights @ proj.colors[select], transmittance


def _render_reference_dense(
    params: dict[str, torch.Tensor],
    camera: Camera,
    settings: RenderSettings = DEFAULT_SETTINGS,
    *,
    dtype: torch.dtype = torch.float32,
) -> ReferenceOutput:
    """The plain version of `render_reference`: every visible Gaussian at every pixel, no tiles."""
    proj = project_gaussians(params, camera, settings, dtype)
    height, width = camera.height, camera.width
    rgb, transmittance = _composite(_pixel_centres(0, width, 0, height, dtype), proj)
    rgb, transmittance = rgb.reshape(height, width, 3), transmittance.reshape(height, width)
    return _finish(rgb, transmittance, settings, proj)


def render_scene_reference(
    scene: GaussianScene, camera: Camera, settings: RenderSettings = DEFAULT_SETTINGS
) -> np.ndarray:
    """[H, W, 3] float32 reference image of a scene (no gradients)."""
    with torch.no_grad():
        return render_reference(scene.to_torch(), camera, settings).image.numpy()


@dataclass(frozen=True)
class ReferenceContributions:
    """What each Gaussian adds to a view, as the contributions pass measures it.

    Attributes:
        weights: [N] float64 sum over all pixels of the Gaussian's alpha * T.
        top_gaussian: [H, W] int64 Gaussian of largest alpha * T at each pixel, -1 where none.
        blended: [H, W] int64 Gaussians blended at each pixel.
        median_depth: [H, W] camera z of the Gaussian taking T to 0.5 or below, 0 where none.
    """

    weights: np.ndarray
    top_gaussian: np.ndarray
    blended: np.ndarray
    median_depth: np.ndarray


def reference_contributions(
    scene: GaussianScene, camera: Camera, settings: RenderSettings = DEFAULT_SETTINGS
) -> ReferenceContributions:
    """Per-Gaussian and per-pixel blending weights of a view (float64, every pixel at once)."""
    with torch.no_grad():
        proj = project_gaussians(scene.to_torch(), camera, settings, torch.float64)
        pixels = _pixel_centres(0, camera.width, 0, camera.height, torch.float64)
        shape = (camera.height, camera.width)
        weights = np.zeros(scene.count)
        if proj.ids.numel() == 0:
            zeros = np.zeros(shape, np.int64)
            return ReferenceContributions(weights, zeros - 1, zeros, np.zeros(shape))
        w, _ = _blend_weights(pixels, proj)  # [Q, P]
        np.add.at(weights, proj.ids.numpy(), w.sum(0).numpy())
        best = w.argmax(1)
        top = torch.where(w.max(1).values > 0, proj.ids[best], -1)
        before = 1.0 - torch.cumsum(w, 1)  # T after each Gaussian: 1 - sum of weights so far
        crossed = (before <= 0.5) & (w > 0)
        first = crossed.float().argmax(1)
        median = torch.where(crossed.any(1), proj.depths[first], 0.0)
        return ReferenceContributions(
            weights,
            top.reshape(shape).numpy(),
            (w > 0).sum(1).reshape(shape).numpy(),
            median.reshape(shape).numpy(),
        )
