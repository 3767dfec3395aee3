"""The built-in scene: a small procedural still life that tests what a 3DGS viewer must get right.

A checkered ground with a fine grid and a Siemens star (fine detail, aliasing), an iridescent torus
and a glossy gold sphere (view-dependent colour in SH degrees 1-3), a tinted glass panel with
etched "text" (semi-transparent layers) and a tuft of grass strands (thin anisotropic splats).
World z is up. Everything is numpy, seeded, and takes a fraction of a second to build;
`scripts/make_builtin_scene.py` writes it to assets/builtin.ply.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.scene import GaussianScene, activate_opacities, activate_scales
from viewer.sh import C0, sh_terms

SH_DEGREE = 3
SH_COEFFS = (SH_DEGREE + 1) ** 2
LIGHT = np.array([0.45, -0.35, 0.82]) / np.linalg.norm([0.45, -0.35, 0.82])  # towards the light
AMBIENT = 0.4
THIN = 0.002  # standard deviation across a surface

GROUND_RADIUS = 2.0
TORUS_CENTRE = np.array([-0.2, 0.35, 0.5])
TORUS_AXIS = np.array([0.45, -0.6, 0.65]) / np.linalg.norm([0.45, -0.6, 0.65])
TORUS_RADII = (0.42, 0.16)  # major, minor
SPHERE_CENTRE, SPHERE_RADIUS = np.array([0.8, -0.45, 0.3]), 0.3
STAR_CENTRE, STAR_RADIUS, STAR_SPOKES = np.array([-0.95, -0.85, 0.0]), 0.33, 24
PANEL_BASE = np.array([-0.15, -0.45, 0.04])  # bottom centre
PANEL_NORMAL = np.array([0.64, -0.77, 0.0])
PANEL_SIZE = (0.8, 0.7)  # width, height
GRASS_CENTRE = np.array([1.25, -0.05, 0.0])

ColourFn = Callable[[np.ndarray], np.ndarray]  # [S, 3] unit dirs towards the viewer -> [n, S, 3]


@dataclass(frozen=True)
class _Splats:
    """A group of Gaussians before activation.

    Attributes:
        means: [n, 3] float64 centres.
        frames: [n, 3, 3] float64 rotations; columns are the local x, y, z axes in world space.
        scales: [n, 3] float64 standard deviations along the local axes.
        opacities: [n] float64 in (0, 1).
        sh: [n, 16, 3] float64 SH coefficients.
    """

    means: np.ndarray
    frames: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    sh: np.ndarray


def default_camera(width: int = 1280, height: int = 720) -> Camera:
    """The view the built-in scene is composed for: above and in front, looking at the torus."""
    return Camera.look_at(
        np.array([2.0, -2.35, 1.3]),
        np.array([0.05, 0.0, 0.25]),
        width=width,
        height=height,
        fov_y_degrees=42.0,
    )


def preview_cameras(width: int = 1280, height: int = 720) -> dict[str, Camera]:
    """A few more views of the still life, by name: from the left, from low down, from above."""
    eyes = {"left": [-2.6, -2.5, 1.1], "low": [1.0, -3.1, 0.35], "top": [0.4, -1.2, 3.6]}
    target = np.array([0.0, 0.0, 0.3])
    return {
        name: Camera.look_at(np.array(eye), target, width=width, height=height, fov_y_degrees=42.0)
        for name, eye in eyes.items()
    }


def make_builtin_scene(seed: int = 0) -> GaussianScene:
    """The still life as a scene with SH degree 3 (about 24k Gaussians); deterministic per seed."""
    rng = np.random.default_rng(seed)
    parts = [
        _ground(),
        _grid_lines(),
        _siemens_star(),
        _torus(),
        _sphere(),
        _glass_panel(rng),
        _grass(rng),
    ]
    merged = _concatenate(parts)
    log_scales = np.log(merged.scales).astype(np.float32)  # [N, 3]
    p = np.clip(merged.opacities, 1e-4, 1.0 - 1e-4)
    logits = np.log(p / (1.0 - p)).astype(np.float32)  # [N]
    return GaussianScene.from_arrays(
        merged.means,
        activate_scales(log_scales),
        _quaternions(merged.frames),
        activate_opacities(logits),
        merged.sh,
        source="builtin",
        cameras=(default_camera(),),
        log_scales=log_scales,
        opacity_logits=logits,
    )


def load_builtin_scene() -> GaussianScene:
    """The built-in scene from the shipped assets/builtin.ply, framed by `default_camera`."""
    from viewer.formats import load_scene
    from viewer.resources import asset_dir

    scene = load_scene(asset_dir() / "builtin.ply")
    return dataclasses.replace(scene, source="builtin", cameras=(default_camera(),))


def load_scene_or_builtin(path: str | None, lod_level: int | None = 0) -> GaussianScene:
    """The scene at `path`, or the built-in scene when None.

    A streamed SOG is read whole at LOD `lod_level`, or with None at its coarsest level, to be
    streamed (viewer.formats.load_scene).
    """
    if path is None:
        return load_builtin_scene()
    from viewer.formats import load_scene

    return load_scene(path, lod_level=lod_level)


# --- geometry helpers ----------------------------------------------------------------------


def _normalize(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis."""
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _frames(normals: np.ndarray, tangents: np.ndarray) -> np.ndarray:
    """[n, 3, 3] rotations with columns (tangent, bitangent, normal), tangent made orthogonal."""
    n = _normalize(normals)
    t = _normalize(tangents - np.sum(tangents * n, axis=-1, keepdims=True) * n)
    return np.stack([t, np.cross(n, t), n], axis=-1)


def _quaternions(frames: np.ndarray) -> np.ndarray:
    """[n, 4] unit quaternions (w, x, y, z) of rotation matrices, w >= 0.

    The quaternion is the dominant eigenvector of Bar-Itzhack's symmetric 4x4 matrix, which is
    robust for every rotation (no branch on the largest diagonal entry).
    """
    m = frames
    k = np.empty((len(m), 4, 4))
    k[:, 0, 0] = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    k[:, 1, 1] = m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2]
    k[:, 2, 2] = m[:, 1, 1] - m[:, 0, 0] - m[:, 2, 2]
    k[:, 3, 3] = m[:, 2, 2] - m[:, 0, 0] - m[:, 1, 1]
    k[:, 0, 1] = k[:, 1, 0] = m[:, 2, 1] - m[:, 1, 2]
    k[:, 0, 2] = k[:, 2, 0] = m[:, 0, 2] - m[:, 2, 0]
    k[:, 0, 3] = k[:, 3, 0] = m[:, 1, 0] - m[:, 0, 1]
    k[:, 1, 2] = k[:, 2, 1] = m[:, 0, 1] + m[:, 1, 0]
    k[:, 1, 3] = k[:, 3, 1] = m[:, 0, 2] + m[:, 2, 0]
    k[:, 2, 3] = k[:, 3, 2] = m[:, 1, 2] + m[:, 2, 1]
    q = np.linalg.eigh(k)[1][:, :, -1]  # [n, 4] eigenvector of the largest eigenvalue
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


def _fibonacci_sphere(count: int) -> np.ndarray:
    """[count, 3] nearly uniform unit vectors on a golden-angle spiral."""
    z = 1.0 - (2.0 * np.arange(count) + 1.0) / count
    phi = np.arange(count) * np.pi * (3.0 - np.sqrt(5.0))
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)


def _lambert(normals: np.ndarray) -> np.ndarray:
    """[n] diffuse shading with ambient light."""
    return AMBIENT + (1.0 - AMBIENT) * np.clip(normals @ LIGHT, 0.0, None)


# --- colour helpers -----------------------------------------------------------------------


def _constant_sh(rgb: np.ndarray) -> np.ndarray:
    """[n, 16, 3] SH of view-independent colours [n, 3]."""
    sh = np.zeros((len(rgb), SH_COEFFS, 3))
    sh[:, 0] = (rgb - 0.5) / C0
    return sh


@functools.cache
def _fit_directions() -> tuple[np.ndarray, np.ndarray]:
    """Fibonacci-sphere directions [S, 3] and the least-squares SH fit matrix [16, S]."""
    dirs = _fibonacci_sphere(64)
    basis = np.stack(sh_terms(dirs[:, 0], dirs[:, 1], dirs[:, 2], SH_DEGREE), axis=-1)
    return dirs, np.linalg.pinv(basis)


def _view_dependent_sh(colour: ColourFn) -> np.ndarray:
    """[n, 16, 3] SH fitted to view-dependent colours.

    Args:
        colour: maps unit directions from the splats towards the viewer, [S, 3], to RGB
            [n, S, 3]; polynomials of degree <= 3 in the direction are reproduced exactly.
    """
    dirs, fit = _fit_directions()  # SH directions point from the camera to the splat
    return np.einsum("ks,nsc->nkc", fit, colour(-dirs) - 0.5)


def _ground_shade(xy: np.ndarray) -> np.ndarray:
    """[n] light on the ground at points [n, 2]: Lambert times soft shadows of torus and sphere."""
    shade = np.full(len(xy), AMBIENT + (1.0 - AMBIENT) * LIGHT[2])
    for centre, radius in (
        (TORUS_CENTRE, TORUS_RADII[0] + TORUS_RADII[1]),
        (SPHERE_CENTRE, SPHERE_RADIUS),
    ):
        shadow = centre[:2] - LIGHT[:2] * centre[2] / LIGHT[2]
        d2 = np.sum((xy - shadow) ** 2, axis=-1)
        shade *= 1.0 - 0.55 * np.exp(-d2 / (2.0 * (0.75 * radius) ** 2))
    return shade


def _flat(xy: np.ndarray, height: float, tangents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means [n, 3] at `height` above points [n, 2] and frames of splats lying on the ground."""
    means = np.concatenate([xy, np.full((len(xy), 1), height)], axis=-1)
    normals = np.broadcast_to([0.0, 0.0, 1.0], means.shape)
    return means, _frames(normals, tangents)


# --- the parts ----------------------------------------------------------------------------


def _ground() -> _Splats:
    """A checkered disc (0.5 squares) that fades out at its rim, with soft shadows."""
    spacing, square = 0.05, 0.5
    coords = (np.arange(round(2 * GROUND_RADIUS / spacing)) + 0.5) * spacing - GROUND_RADIUS
    xy = np.stack(np.meshgrid(coords, coords, indexing="ij"), axis=-1).reshape(-1, 2)
    radius = np.linalg.norm(xy, axis=-1)
    fade = np.clip((GROUND_RADIUS - radius) / 0.5, 0.0, 1.0)
    xy, fade = xy[fade > 0.05], fade[fade > 0.05]  # the rest would be invisible
    dark = np.floor(xy / square).sum(axis=-1) % 2 == 1
    rgb = (
        np.where(dark[:, None], [0.22, 0.25, 0.3], [0.86, 0.83, 0.76]) * _ground_shade(xy)[:, None]
    )
    means, frames = _flat(xy, 0.0, np.broadcast_to([1.0, 0.0, 0.0], (len(xy), 3)))
    return _Splats(
        means=means,
        frames=frames,
        scales=np.broadcast_to([0.7 * spacing, 0.7 * spacing, THIN], (len(xy), 3)),
        opacities=0.98 * fade * fade * (3.0 - 2.0 * fade),
        sh=_constant_sh(rgb),
    )


def _grid_lines() -> _Splats:
    """A fine brass grid (0.25 pitch) inlaid in the ground: rows of thin anisotropic splats."""
    pitch, step, extent = 0.25, 0.025, GROUND_RADIUS - 0.35
    lines = int(extent // pitch)
    offsets = np.arange(-lines, lines + 1) * pitch
    along = (np.arange(round(2 * extent / step)) + 0.5) * step - extent
    a, o = np.meshgrid(along, offsets, indexing="ij")
    a, o = a.ravel(), o.ravel()
    xy = np.concatenate([np.stack([a, o], -1), np.stack([o, a], -1)])
    direction = np.repeat([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], len(a), axis=0)
    inside = np.linalg.norm(xy, axis=-1) < extent
    xy, direction = xy[inside], direction[inside]
    means, frames = _flat(xy, 0.001, direction)
    rgb = np.array([0.78, 0.62, 0.32]) * _ground_shade(xy)[:, None]
    return _Splats(
        means=means,
        frames=frames,
        scales=np.broadcast_to([0.6 * step, 0.0025, THIN], (len(xy), 3)),
        opacities=np.full(len(xy), 0.9),
        sh=_constant_sh(rgb),
    )


def _siemens_star() -> _Splats:
    """A black-and-white Siemens star on the ground: spokes finer than a pixel at its centre."""
    rings = 26
    dr = STAR_RADIUS / rings
    radii = (np.arange(rings) + 0.5) * dr
    sectors = 2 * STAR_SPOKES  # every ring holds whole sectors, so spoke edges stay straight
    counts = sectors * np.maximum(1, np.round(2 * np.pi * radii / dr / sectors)).astype(int)
    r = np.repeat(radii, counts)
    theta = np.concatenate([(np.arange(c) + 0.5) * 2 * np.pi / c for c in counts])
    xy = STAR_CENTRE[:2] + r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=-1)
    tangents = np.stack([-np.sin(theta), np.cos(theta), np.zeros_like(theta)], axis=-1)
    means, frames = _flat(xy, 0.002, tangents)
    white = np.floor(theta / (np.pi / STAR_SPOKES)) % 2 == 0
    rgb = np.where(white[:, None], 0.95, 0.04) * _ground_shade(xy)[:, None] * np.ones(3)
    arc = 2 * np.pi * r / np.repeat(counts, counts)
    return _Splats(
        means=means,
        frames=frames,
        scales=np.stack([0.8 * arc, np.full_like(r, 0.8 * dr), np.full_like(r, THIN)], axis=-1),
        opacities=np.full(len(r), 0.99),
        sh=_constant_sh(rgb),
    )


def _torus() -> _Splats:
    """A tilted iridescent ring: hue runs from violet (facing) through teal to pink (grazing)."""
    n_major, n_minor = 150, 48
    big, small = TORUS_RADII
    grid_u, grid_v = np.meshgrid(
        np.arange(n_major) * 2 * np.pi / n_major,
        (np.arange(n_minor) + 0.5) * 2 * np.pi / n_minor,
        indexing="ij",
    )
    u, v = grid_u.ravel(), grid_v.ravel()
    e1 = _normalize(np.cross(TORUS_AXIS, [0.0, 0.0, 1.0]))
    e2 = np.cross(TORUS_AXIS, e1)
    radial = np.cos(u)[:, None] * e1 + np.sin(u)[:, None] * e2  # [n, 3]
    normals = np.cos(v)[:, None] * radial + np.sin(v)[:, None] * TORUS_AXIS
    means = TORUS_CENTRE + big * radial + small * normals
    tangents = -np.sin(u)[:, None] * e1 + np.cos(u)[:, None] * e2
    # quadratic through (cos 0: pink), (0.5: teal), (1: violet), per channel
    knots = np.array([[1.0, 0.25, 0.55], [0.1, 0.8, 0.45], [0.3, 0.2, 1.0]])  # [3, 3]
    palette = np.linalg.solve(np.vander([0.0, 0.5, 1.0], 3, increasing=True), knots)  # [3, 3]
    shade = _lambert(normals)
    glint = _glint(normals, 0.45)

    def colour(views: np.ndarray) -> np.ndarray:
        facing = normals @ views.T  # [n, S]
        powers = np.stack([np.ones_like(facing), facing, facing * facing], axis=-1)
        return shade[:, None, None] * (powers @ palette) + glint(views)

    return _Splats(
        means=means,
        frames=_frames(normals, tangents),
        scales=np.stack(
            [
                0.65 * 2 * np.pi * (big + small * np.cos(v)) / n_major,
                np.full_like(u, 0.65 * 2 * np.pi * small / n_minor),
                np.full_like(u, THIN),
            ],
            axis=-1,
        ),
        opacities=np.full(len(u), 0.99),
        sh=_view_dependent_sh(colour),
    )


def _glint(normals: np.ndarray, strength: float) -> ColourFn:
    """A broad white highlight around the mirror direction of the light (a cubic lobe)."""
    mirror = 2.0 * (normals @ LIGHT)[:, None] * normals - LIGHT  # [n, 3]
    lit = strength * np.clip(3.0 * normals @ LIGHT, 0.0, 1.0)  # [n]

    def colour(views: np.ndarray) -> np.ndarray:
        lobe = ((1.0 + mirror @ views.T) / 2.0) ** 3  # [n, S]
        return (lit[:, None] * lobe)[..., None] * np.ones(3)

    return colour


def _sphere() -> _Splats:
    """A glossy gold ball: diffuse gold, a moving highlight and a brighter rim."""
    count = 3200
    normals = _fibonacci_sphere(count)
    tangents = np.where(
        np.abs(normals[:, 2:]) < 0.9,
        np.cross(normals, [0.0, 0.0, 1.0]),
        np.cross(normals, [1.0, 0.0, 0.0]),
    )
    sigma = 0.65 * SPHERE_RADIUS * np.sqrt(4 * np.pi / count)
    gold = np.array([1.0, 0.72, 0.28])
    shade = _lambert(normals)
    glint = _glint(normals, 0.9)

    def colour(views: np.ndarray) -> np.ndarray:
        rim = (1.0 - normals @ views.T) ** 2  # [n, S]
        return (0.75 * shade[:, None, None] + 0.3 * rim[..., None]) * gold + glint(views)

    return _Splats(
        means=SPHERE_CENTRE + SPHERE_RADIUS * normals,
        frames=_frames(normals, tangents),
        scales=np.broadcast_to([sigma, sigma, THIN], (count, 3)),
        opacities=np.full(count, 0.99),
        sh=_view_dependent_sh(colour),
    )


def _panel_axes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The glass panel's horizontal axis, vertical axis and normal (facing the default view)."""
    normal = PANEL_NORMAL / np.linalg.norm(PANEL_NORMAL)
    up = np.array([0.0, 0.0, 1.0])
    return np.cross(up, normal), up, normal


def _on_panel(a: np.ndarray, b: np.ndarray, lift: float = 0.0) -> np.ndarray:
    """[n, 3] points at (a, b) panel coordinates (from the bottom centre), `lift` off its face."""
    horizontal, up, normal = _panel_axes()
    return PANEL_BASE + a[:, None] * horizontal + b[:, None] * up + lift * normal


def _glass_panel(rng: np.random.Generator) -> _Splats:
    """A standing pane of tinted glass with a dark frame and lines of etched "text"."""
    horizontal, _, normal = _panel_axes()
    width, height = PANEL_SIZE
    step = 0.025
    a, b = np.meshgrid(
        (np.arange(round(width / step)) + 0.5) * step - width / 2,
        (np.arange(round(height / step)) + 0.5) * step,
        indexing="ij",
    )
    a, b = a.ravel(), b.ravel()
    normals = np.broadcast_to(normal, (len(a), 3))

    def glass(views: np.ndarray) -> np.ndarray:
        facing = normals @ views.T  # [n, S]
        tint = np.array([0.55, 0.75, 0.82])
        return tint + 0.45 * (1.0 - facing * facing)[..., None]  # whiter at grazing angles

    pane = _Splats(
        means=_on_panel(a, b),
        frames=_frames(normals, np.broadcast_to(horizontal, (len(a), 3))),
        scales=np.broadcast_to([0.7 * step, 0.7 * step, THIN], (len(a), 3)),
        opacities=np.full(len(a), 0.16),
        sh=_view_dependent_sh(glass),
    )
    margin = 0.06
    text_origin = np.array([margin - width / 2, height - margin])  # top left, panel coordinates
    starts, ends = (text_origin + p for p in _text_strokes(rng, width - 2 * margin, lines=4))
    etched = _strokes(
        _on_panel(starts[:, 0], starts[:, 1], 0.003),
        _on_panel(ends[:, 0], ends[:, 1], 0.003),
        per_stroke=3,
        thickness=0.0022,
        rgb=np.array([0.93, 0.96, 1.0]),
        opacity=0.8,
    )
    corners = np.array(
        [[-width / 2, 0.0], [width / 2, 0.0], [width / 2, height], [-width / 2, height]]
    )
    frame = _strokes(
        _on_panel(corners[:, 0], corners[:, 1]),
        _on_panel(np.roll(corners, -1, axis=0)[:, 0], np.roll(corners, -1, axis=0)[:, 1]),
        per_stroke=round(width / 0.012),
        thickness=0.007,
        rgb=np.array([0.1, 0.08, 0.07]),
        opacity=0.99,
    )
    return _concatenate([pane, etched, frame])


def _text_strokes(
    rng: np.random.Generator, width: float, lines: int
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points [m, 2] of random letter strokes laid out as lines of words.

    Coordinates run from 0 to `width` across and down from 0 (the top of the first line).
    """
    letter_w, letter_h, gap, line_pitch = 0.022, 0.034, 0.009, 0.07
    # strokes of a letter in its unit box: verticals, horizontals and a diagonal
    shapes = np.array(
        [
            [[0, 0], [0, 1]],
            [[1, 0], [1, 1]],
            [[0.5, 0], [0.5, 1]],
            [[0, 1], [1, 1]],
            [[0, 0.5], [1, 0.5]],
            [[0, 0], [1, 0]],
            [[0, 0], [1, 1]],
        ]
    )
    strokes = []
    for line in range(lines):
        x, y = 0.0, -line_pitch * line - letter_h
        while True:
            letters = int(rng.integers(2, 8))
            if x + letters * (letter_w + gap) > width:
                break
            for _ in range(letters):
                picked = shapes[
                    rng.choice(len(shapes), size=int(rng.integers(2, 4)), replace=False)
                ]
                strokes.append(picked * [letter_w, letter_h] + [x, y])
                x += letter_w + gap
            x += 2.5 * gap
    segments = np.concatenate(strokes)  # [m, 2, 2]
    return segments[:, 0], segments[:, 1]


def _strokes(
    starts: np.ndarray,
    ends: np.ndarray,
    per_stroke: int,
    thickness: float,
    rgb: np.ndarray,
    opacity: float,
) -> _Splats:
    """Straight strokes [m, 3] -> [m, 3], each drawn by `per_stroke` elongated round splats."""
    t = (np.arange(per_stroke) + 0.5) / per_stroke  # [k]
    means = starts[:, None] + t[None, :, None] * (ends - starts)[:, None]  # [m, k, 3]
    along = np.repeat(ends - starts, per_stroke, axis=0)  # [m k, 3]
    length = np.linalg.norm(along, axis=-1)
    side = np.where(
        np.abs(along[:, 2:]) < 0.9 * length[:, None], [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]]
    )
    n = len(along)
    return _Splats(
        means=means.reshape(-1, 3),
        frames=_frames(np.cross(along, side), along),
        scales=np.stack(
            [0.6 * length / per_stroke, np.full(n, thickness), np.full(n, thickness)], axis=-1
        ),
        opacities=np.full(n, opacity),
        sh=_constant_sh(np.broadcast_to(rgb, (n, 3))),
    )


def _grass(rng: np.random.Generator) -> _Splats:
    """A tuft of curved grass blades: chains of thin splats, dark at the root, light at the tip."""
    blades, segments = 90, 18
    radius = 0.2 * np.sqrt(rng.random(blades))
    angle = rng.uniform(0.0, 2 * np.pi, blades)
    roots = GRASS_CENTRE + np.stack([radius * np.cos(angle), radius * np.sin(angle), 0 * angle], -1)
    heights = rng.uniform(0.18, 0.45, blades)
    lean_angle = angle + rng.normal(0.0, 0.5, blades)
    lean = rng.uniform(0.2, 0.7, blades)[:, None] * np.stack(
        [np.cos(lean_angle), np.sin(lean_angle), 0 * angle], -1
    )
    s = np.arange(segments + 1) / segments  # [k + 1] along the blade
    up = np.array([0.0, 0.0, 1.0])
    points = roots[:, None] + heights[:, None, None] * (
        s[None, :, None] * up + (s * s)[None, :, None] * lean[:, None]
    )  # [blades, k + 1, 3]
    tip = np.broadcast_to(s[1:] - 0.5 / segments, (blades, segments))[..., None]  # [blades, k, 1]
    rgb = (1 - tip) * [0.06, 0.22, 0.04] + tip * [0.62, 0.78, 0.26]
    along = _normalize(points[:, 1:] - points[:, :-1]).reshape(-1, 3)
    hair_light = AMBIENT + (1 - AMBIENT) * np.sqrt(1.0 - (along @ LIGHT) ** 2)  # Kajiya-Kay
    return _strokes(
        points[:, :-1].reshape(-1, 3),
        points[:, 1:].reshape(-1, 3),
        per_stroke=1,
        thickness=0.0035,
        rgb=rgb.reshape(-1, 3) * hair_light[:, None],
        opacity=0.95,
    )


def _concatenate(parts: list[_Splats]) -> _Splats:
    """One group holding all the Gaussians of `parts`."""
    return _Splats(
        **{
            f.name: np.concatenate([getattr(p, f.name) for p in parts])
            for f in dataclasses.fields(_Splats)
        }
    )
