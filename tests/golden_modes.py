"""Golden renders of the other image paths: the depth and heatmap modes, an LOD cut, foveation.

Each `tests/golden/modes/<name>.npz` holds a tiny scene, a camera, the render settings, what
its path needs besides (heat values; an LOD cut; a fovea, a gaze and the stored levels) and the
float64 reference images that scripts/make_golden.py made with `reference_images`:

    depth, heatmap  the scene recoloured with the heat colour of each Gaussian's camera depth
                    (over `depth_range`) or of its heat value, SH degree 0, by the reference
    lod             the reference cut and blend of the scene's LOD tree (`reference_cut`,
                    `blend_weights`, `blend_nodes`), drawn by the reference
    fovea           nested subsets weighed per splat at the lowest level its footprint reaches
                    (`image`, the quads backend's rule) and per pixel at the pixel's level
                    (`image_per_pixel`, the tiles backend's), both in float64

tests/test_golden_modes.py renders them again: the reference to 1e-6, the GPU to 45 dB.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from viewer.camera import Camera
from viewer.features.lod_hierarchy import (
    blend_nodes,
    blend_weights,
    build_hierarchy,
    reference_cut,
)
from viewer.reference import (
    MAX_ALPHA,
    MIN_ALPHA,
    MIN_TRANSMITTANCE,
    _pixel_centres,
    project_gaussians,
    render_reference,
)
from viewer.render.colormap import heat_colour
from viewer.render.fovea import Fovea, near_level, weight
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.preprocess import depth_range
from viewer.scene import GaussianScene, fitted_near_plane
from viewer.settings import RenderSettings

MODES = Path(__file__).parent / "golden" / "modes"
ARRAYS = ("means", "scales", "rotations", "opacities", "sh")
C0 = 0.28209479177387814  # the SH degree-0 constant


@dataclass(frozen=True)
class ModeCase:
    """One golden render of a path other than the plain colour image.

    Attributes:
        kind: "depth", "heatmap", "lod" or "fovea".
        heat: heatmap: [N] float32 values in [0, 1].
        lod: lod: the frame's cut.
        fovea, gaze, levels: fovea: the frame's fovea, its gaze (pixels) and [N] uint8 stored
            levels (`GpuScene.write_levels`).
    """

    name: str
    kind: str
    scene: GaussianScene
    camera: Camera
    settings: RenderSettings
    heat: np.ndarray | None = None
    lod: LodCut | None = None
    fovea: Fovea | None = None
    gaze: tuple[float, float] | None = None
    levels: np.ndarray | None = None

    def inputs(self) -> FrameInputs:
        """The GPU frame's inputs."""
        return FrameInputs(self.camera, gaze=self.gaze, fovea=self.fovea, lod=self.lod)


def save(case: ModeCase, images: dict[str, np.ndarray], folder: Path = MODES) -> Path:
    """Write `case` and its reference images to folder/<name>.npz (float32 images)."""
    extras: dict[str, object] = {}
    if case.heat is not None:
        extras["heat"] = case.heat.astype(np.float32)
    if case.lod is not None:
        extras["lod"] = json.dumps(dataclasses.asdict(case.lod))
    if case.fovea is not None:
        assert case.levels is not None
        extras["fovea"] = json.dumps(dataclasses.asdict(case.fovea))
        extras["gaze"] = json.dumps(case.gaze)
        extras["levels"] = case.levels.astype(np.uint8)
    path = folder / f"{case.name}.npz"
    np.savez_compressed(
        path,
        kind=case.kind,
        **{k: getattr(case.scene, k) for k in ARRAYS},
        camera=json.dumps(case.camera.to_dict()),
        settings=json.dumps(dataclasses.asdict(case.settings)),
        **extras,
        **{k: v.astype(np.float32) for k, v in images.items()},
    )
    return path


def load(name: str, folder: Path = MODES) -> tuple[ModeCase, dict[str, np.ndarray]]:
    """The case and the stored reference images of folder/<name>.npz."""
    with np.load(folder / f"{name}.npz") as data:
        arrays = {k: data[k] for k in ARRAYS}
        fields = json.loads(str(data["settings"]))
        fields["background"] = tuple(fields["background"])
        fovea = None
        if "fovea" in data:
            options = json.loads(str(data["fovea"]))
            fovea = Fovea(**{**options, "borders": tuple(options["borders"])})
        gaze = json.loads(str(data["gaze"])) if "gaze" in data else None
        case = ModeCase(
            name=name,
            kind=str(data["kind"]),
            scene=GaussianScene(**arrays, source=name),
            camera=Camera.from_dict(json.loads(str(data["camera"]))),
            settings=RenderSettings(**fields),
            heat=data.get("heat"),
            lod=LodCut(**json.loads(str(data["lod"]))) if "lod" in data else None,
            fovea=fovea,
            gaze=None if gaze is None else (float(gaze[0]), float(gaze[1])),
            levels=data.get("levels"),
        )
        images = {k: data[k] for k in ("image", "image_per_pixel") if k in data}
    return case, images


def names() -> list[str]:
    """The golden mode cases checked in."""
    return sorted(path.stem for path in MODES.glob("*.npz"))


def reference_images(case: ModeCase) -> dict[str, np.ndarray]:
    """The float64 reference images of `case` ({"image": ...}, and "image_per_pixel")."""
    plain = dataclasses.replace(case.settings, mode="colour")
    if case.kind in ("depth", "heatmap"):
        scene = case.scene
        if case.kind == "depth":
            bounds = tuple(b.astype(np.float64) for b in scene.robust_bounds())
            near = case.settings.near_plane or fitted_near_plane(*bounds)
            low, high = depth_range(case.camera, bounds, near)  # type: ignore[arg-type]
            w2c = case.camera.world_to_camera
            z = scene.means.astype(np.float64) @ w2c[2, :3] + w2c[2, 3]
            values = (z - low) / (high - low)
        else:
            assert case.heat is not None
            values = case.heat
        rgb = heat_colour(values).astype(np.float64)
        sh = ((rgb - 0.5) / C0)[:, None, :].astype(np.float32)
        return {"image": _render(dataclasses.replace(scene, sh=sh), case.camera, plain)}
    if case.kind == "lod":
        assert case.lod is not None
        tree = build_hierarchy(case.scene)
        ids = np.flatnonzero(reference_cut(tree, case.camera, case.lod.tau))
        t = blend_weights(tree, case.camera, case.lod.tau, case.lod.blend_width)[ids]
        return {"image": _render(blend_nodes(tree, ids, t), case.camera, plain)}
    assert case.kind == "fovea" and case.fovea is not None and case.levels is not None
    return {
        "image": _fovea_per_splat(case, plain),
        "image_per_pixel": _fovea_per_pixel(case, plain),
    }


def _render(scene: GaussianScene, camera: Camera, settings: RenderSettings) -> np.ndarray:
    with torch.no_grad():
        image = render_reference(scene.to_torch(), camera, settings, dtype=torch.float64).image
    return image.numpy()


def _fovea_per_splat(case: ModeCase, settings: RenderSettings) -> np.ndarray:
    """Each splat's opacity times its weight at the lowest level its footprint's disc reaches."""
    assert case.fovea is not None and case.levels is not None
    with torch.no_grad():
        proj = project_gaussians(case.scene.to_torch(), case.camera, settings, torch.float64)
    ids = proj.ids.numpy()
    xx, xy, yy = proj.cov2d.numpy().T
    major = 0.5 * (xx + yy) + np.hypot(0.5 * (xx - yy), xy)
    cutoff = 2.0 * np.log(255.0 * proj.opacities.numpy())
    centres = proj.means2d.numpy()
    level = near_level(case.camera, case.fovea, case.gaze, centres[:, 0], centres[:, 1],
                       np.sqrt(cutoff * major))  # fmt: skip
    scale = np.ones(case.scene.count)
    scale[ids] = weight(case.levels[ids], level)
    opacities = (case.scene.opacities * scale).astype(np.float32)
    return _render(dataclasses.replace(case.scene, opacities=opacities), case.camera, settings)


def _fovea_per_pixel(case: ModeCase, settings: RenderSettings) -> np.ndarray:
    """Every splat at every pixel, its alpha times its weight at the pixel's level."""
    assert case.fovea is not None and case.levels is not None
    camera = case.camera
    with torch.no_grad():
        proj = project_gaussians(case.scene.to_torch(), camera, settings, torch.float64)
    pixels = _pixel_centres(0, camera.width, 0, camera.height, torch.float64).numpy()  # [Q, 2]
    pixel_level = near_level(camera, case.fovea, case.gaze, pixels[:, 0], pixels[:, 1], 0.0)
    stored = case.levels[proj.ids.numpy()]  # [P]
    d = pixels[:, None, :] - proj.means2d.numpy()[None]  # [Q, P, 2]
    a, b, c = proj.conics.numpy().T
    power = -0.5 * (a * d[..., 0] ** 2 + c * d[..., 1] ** 2) - b * d[..., 0] * d[..., 1]
    w = weight(stored[None, :], pixel_level[:, None])  # [Q, P]
    alpha = np.minimum(MAX_ALPHA, proj.opacities.numpy() * w * np.exp(np.minimum(power, 0.0)))
    alpha = np.where((power <= 0.0) & (alpha >= MIN_ALPHA), alpha, 0.0)
    rgb, t = np.zeros((len(pixels), 3)), np.ones(len(pixels))
    done = np.zeros(len(pixels), bool)  # T would have fallen below 1e-4: nothing more blends
    for k, colour in enumerate(proj.colors.numpy()):  # front to back
        active = (alpha[:, k] > 0.0) & ~done
        after = t * (1.0 - alpha[:, k])
        stop = active & (after < MIN_TRANSMITTANCE)
        done |= stop
        blend = active & ~stop
        rgb += np.where(blend, alpha[:, k] * t, 0.0)[:, None] * colour
        t = np.where(blend, after, t)
    image = rgb + t[:, None] * np.asarray(settings.background)
    return image.reshape(camera.height, camera.width, 3)
