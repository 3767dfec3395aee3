"""Every setting, as frozen dataclasses split by concern, and the one table of settings groups.

Each field carries one description (help, unit, range or choices) in its metadata; the CLI flags,
the ImGui widgets and the bench config keys are all generated from it (`viewer.setting_specs`).
`GROUPS` names each dataclass (the namespace of its keys: `prune.keep`), its panel section, the
commands that offer its flags and whether bench configs may set it: adding a settings group is
one dataclass and one row there. Change settings with `dataclasses.replace`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any


def setting(
    default: Any,
    help: str,
    *,
    unit: str = "",
    range: tuple[float, float] | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A dataclass field with its one description: help text, unit, numeric range or choices."""
    meta = {"help": help, "unit": unit, "range": range, "choices": choices}
    return field(default=default, metadata=meta)


RENDER_MODES = ("colour", "depth", "heatmap", "points", "outlines", "overdraw")
HEATMAP_SCALARS = ("opacity", "size", "volume", "significance", "efficiency", "lod_level")


@dataclass(frozen=True)
class RenderSettings:
    """How Gaussians become an image; shared by the GPU pipeline and the CPU reference.

    The reference renders mode "colour" only; the other modes are GPU views for inspection.
    """

    mode: str = setting(
        "colour",
        "what to show: SH colour; colour by camera depth; colour by a per-Gaussian value "
        "(heatmap); centres as dots; ellipse outlines; overdraw (splats blended per pixel)",
        choices=RENDER_MODES,
    )
    heatmap: str = setting(
        "opacity",
        "the per-Gaussian value the heatmap mode shows (size: largest scale; volume, "
        "significance, efficiency: pruning scores; log scales but opacity; lod_level: the "
        "level of detail drawn, leaves cold, merged nodes warmer, blends in between)",
        choices=HEATMAP_SCALARS,
    )
    point_size: float = setting(3.0, "dot size of the points mode", unit="pixels", range=(1, 16))

    sh_degree: int = setting(3, "highest SH degree evaluated (capped by the scene's)", range=(0, 3))
    background: tuple[float, float, float] = setting(
        (0.0, 0.0, 0.0),
        "background colour, RGB in [0, 1] (display-referred, as the splats)",
        range=(0.0, 1.0),
    )
    splat_scale: float = setting(1.0, "multiplier on every Gaussian's scale", range=(0.05, 4.0))
    antialias: bool = setting(
        False, "Mip-Splatting opacity compensation for the 0.3 px low-pass filter"
    )
    near_plane: float = setting(
        0.0,
        "Gaussians with camera depth at or below this are culled; 0: fitted to the scene, 2 % of "
        "its robust size but never above the original 3DGS rasterizer's 0.2",
        unit="world units",
        range=(0.0, 10.0),
    )
    guard_band: float = setting(
        0.0,
        "opt-in speed-up: also cull Gaussians whose centre lies beyond this multiple of the half "
        "field of view (0: off; the original 3DGS culls only at the near plane, then drops "
        "splats whose footprint misses the image)",
        range=(0.0, 10.0),
    )


@dataclass(frozen=True)
class RasterSettings:
    """Which GPU implementation runs the sort and raster passes."""

    backend: str = setting(
        "auto",
        "raster backend: instanced quads, 16x16 compute tiles, 16x16 tiles on the CPU cores "
        "(numba), or pick per device (cpu on software GL)",
        choices=("auto", "quads", "tiles", "cpu"),
    )
    sort: str = setting(
        "auto",
        "depth sort: GPU radix sort, CPU (numpy), or pick per device",
        choices=("auto", "gpu", "cpu"),
    )
    validate: bool = setting(
        False, "read intermediates back every frame and check invariants (slow; tests)"
    )


PRUNING_SCORES = ("opacity", "volume", "significance", "efficiency")
VIEW_SCORES = ("significance", "efficiency")  # measured by rendering views of the scene


@dataclass(frozen=True)
class PruneSettings:
    """Which Gaussians pruning hides, by one score.

    All but the best-scoring `keep` fraction, or those below a `threshold`.
    """

    score: str = setting(
        "significance", "importance score pruning ranks by", choices=PRUNING_SCORES
    )
    keep: float = setting(
        1.0, "fraction of Gaussians kept, best scores first (1: no pruning)", range=(0.0, 1.0)
    )
    threshold: float = setting(
        0.0,
        "keep the Gaussians scoring at least this instead of a fraction (0: use keep)",
        range=(0.0, math.inf),
    )
    views: int = setting(
        24, "views the significance and efficiency scores are measured over", range=(1, 1024)
    )
    view_width: int = setting(
        320, "width of those views (the height keeps their aspect)", unit="pixels",
        range=(16, 4096),
    )  # fmt: skip
    score_cache: str = setting(
        "user",
        "where measured scores are cached: the user cache folder ($XDG_CACHE_HOME/splatscope), "
        "or beside the scene file (<scene>.scores.npz) where its folder may be written",
        choices=("user", "beside"),
    )

    @property
    def active(self) -> bool:
        """Whether anything is pruned."""
        return self.keep < 1.0 or self.threshold > 0.0


LOD_CUTS = ("tau", "budget", "target_fps")


@dataclass(frozen=True)
class LodSettings:
    """Level of detail: merged Gaussians drawn where the scene's own would be too small to see.

    The merge tree is built when LOD is first enabled (cached per scene); every frame a GPU pass
    picks the nodes to draw (the cut). Setting any of these keys (on the command line, in a bench
    config or a preset) enables LOD, and `tau`, `budget` or `target_fps` alone picks that cut
    (`implied`).
    """

    enabled: bool = setting(False, "draw merged Gaussians far away (level of detail)")
    cut: str = setting(
        "tau",
        "which nodes are drawn: those whose projected size is below tau while their parent's is "
        "not; at most `budget` of them (tau found on the GPU); or as many as hold `target_fps` "
        "while the camera moves (full quality at tau once it stops)",
        choices=LOD_CUTS,
    )
    tau: float = setting(
        2.0, "projected size (bounding radius) below which a merged node is drawn",
        unit="pixels", range=(0.01, 1000.0),
    )  # fmt: skip
    budget: int = setting(
        1_500_000, "most nodes (splats) drawn in the budget cut: a count, not a share",
        unit="splats",
        range=(1, 100_000_000),
    )  # fmt: skip
    blend: bool = setting(
        True, "interpolate a node towards its parent near the threshold (no popping)"
    )
    blend_width: float = setting(
        2.0, "a node blends over sizes from its parent's / width up to its parent's",
        range=(1.0, 8.0),
    )  # fmt: skip
    target_fps: float = setting(
        30.0, "frame rate the target_fps cut holds while the camera moves (by budget and "
        "render scale)", unit="FPS", range=(1.0, 240.0),
    )  # fmt: skip
    min_scale: float = setting(
        0.25, "smallest render scale (fraction of the window's width and height) target_fps "
        "may use; the image is stretched to the window", range=(0.1, 1.0),
    )  # fmt: skip

    @classmethod
    def implied(cls, given: dict[str, Any]) -> dict[str, Any]:
        """`given` field values plus what they imply.

        Any key enables LOD unless `enabled` is given too; one of tau, budget and target_fps
        without `cut` selects that cut.

        Raises:
            ValueError: for two or more of them without `cut` (which one is meant).
        """
        out = dict(given)
        if given and "enabled" not in given:
            out["enabled"] = True
        chosen = [name for name in LOD_CUTS if name in given]
        if "cut" in given or not chosen:
            return out
        if len(chosen) > 1:
            raise ValueError(f"lod: {' and '.join(chosen)} given: choose the cut with lod.cut")
        return {**out, "cut": chosen[0]}

    def unused(self) -> set[str]:
        """The fields the current cut does not read (the panel leaves them out)."""
        hidden = {"tau", "budget", "target_fps", "min_scale"}
        hidden -= {"tau", "target_fps", "min_scale"} if self.cut == "target_fps" else {self.cut}
        return hidden | ({"blend_width"} if not self.blend else set())


GAZE_SOURCES = ("mouse", "centre", "fixed")
FOVEA_MAPPINGS = ("bands", "pooling")
FOVEA_SOURCES = ("subsets", "lod")


@dataclass(frozen=True)
class FoveationSettings:
    """Foveated rendering: full detail around the gaze, less toward the edge of the view.

    The view is split by eccentricity (the angle from the gaze) into four levels: level 0 (the
    fovea) draws every Gaussian, coarser levels draw nested subsets of them (the best-scoring
    `shares`, RTGS) or a coarser LOD cut (tau grows by `lod_tau_scale` per level). Two levels
    blend smoothly across each border. Setting any of these keys enables it (`implied`);
    `gaze_x` or `gaze_y` alone also picks the fixed gaze.
    """

    enabled: bool = setting(False, "foveated rendering: less detail away from the gaze")
    gaze: str = setting(
        "centre",
        "where the viewer looks: the mouse pointer over the view, the image centre, or the "
        "fixed point gaze_x, gaze_y (scripts, the bench)",
        choices=GAZE_SOURCES,
    )
    gaze_x: float = setting(0.5, "fixed gaze: fraction of the image width from the left",
                            range=(0.0, 1.0))  # fmt: skip
    gaze_y: float = setting(0.5, "fixed gaze: fraction of the image height from the top",
                            range=(0.0, 1.0))  # fmt: skip
    mapping: str = setting(
        "bands",
        "how eccentricity picks the level: bands of `fovea` and `bands` degrees, or RTGS's "
        "pooling size (pooling radius alpha ecc^2, a level per step of its square root)",
        choices=FOVEA_MAPPINGS,
    )
    fovea: float = setting(
        10.0, "radius of the fovea (level 0, full detail), eccentricity", unit="degrees",
        range=(0.0, 180.0),
    )  # fmt: skip
    bands: tuple[float, float] = setting(
        (8.0, 8.0), "widths of levels 1 and 2 beyond the fovea (level 3 lies beyond them)",
        unit="degrees", range=(0.0, 180.0),
    )  # fmt: skip
    band_blend: float = setting(
        3.0, "width of the smoothstep blend beyond each border (0: hard borders)",
        unit="degrees", range=(0.0, 45.0),
    )  # fmt: skip
    alpha: float = setting(
        0.05, "pooling mapping: pooling radius = alpha x eccentricity^2 (radians; RTGS: 0.05)",
        range=(0.001, 1.0),
    )  # fmt: skip
    display_fov: float = setting(
        0.0, "horizontal angle the screen spans at the eye, for eccentricities (RTGS: 90); 0: "
        "the camera's field of view", unit="degrees", range=(0.0, 170.0),
    )  # fmt: skip
    source: str = setting(
        "subsets",
        "coarser detail from nested subsets of the Gaussians by a pruning score (RTGS), or from "
        "the LOD cut with tau growing with eccentricity (needs LOD enabled)",
        choices=FOVEA_SOURCES,
    )
    shares: tuple[float, float, float, float] = setting(
        (1.0, 0.9, 0.8, 0.7),
        "subsets: fraction of the Gaussians levels 0-3 keep, best scores first (each level "
        "keeps a subset of the one before)",
        range=(0.0, 1.0),
    )
    subset_score: str = setting(
        "significance", "subsets: the pruning score that ranks the Gaussians",
        choices=PRUNING_SCORES,
    )  # fmt: skip
    lod_tau_scale: float = setting(
        2.0, "lod source: tau is multiplied by this per level beyond level 1 (level 3: "
        "scale^2); with LOD on, the fovea draws the scene's own Gaussians either way",
        range=(1.0, 16.0),
    )  # fmt: skip
    periphery_scale: float = setting(
        1.0, "foveated resolution: render the view at this fraction of its width and height and "
        "an inset around the fovea (and its blend into level 1) at full resolution; 1: off",
        range=(0.2, 1.0),
    )  # fmt: skip
    outline: bool = setting(False, "draw the borders of the levels over the view")

    @classmethod
    def implied(cls, given: dict[str, Any]) -> dict[str, Any]:
        """`given` plus what it implies: any key enables foveation unless `enabled` is given.

        `gaze_x` or `gaze_y` without `gaze` also selects the fixed gaze.

        Raises:
            ValueError: for shares that do not start at 1 (the fovea keeps every Gaussian) or
                that grow from one level to the next (the subsets are nested).
        """
        out = dict(given)
        if ("gaze_x" in given or "gaze_y" in given) and "gaze" not in given:
            out["gaze"] = "fixed"
        if given and "enabled" not in given:
            out["enabled"] = True
        shares = given.get("shares")
        if shares is not None and (
            shares[0] != 1.0 or any(b > a for a, b in itertools.pairwise(shares))
        ):
            raise ValueError(
                f"shares: {','.join(f'{v:g}' for v in shares)} must start at 1 (the fovea keeps "
                "every Gaussian) and not grow from one level to the next (nested subsets)"
            )
        return out

    def unused(self) -> set[str]:
        """The fields the gaze, mapping and source chosen do not read (left out of the panel)."""
        hidden = set() if self.gaze == "fixed" else {"gaze_x", "gaze_y"}
        hidden |= {"alpha"} if self.mapping == "bands" else {"fovea", "bands", "band_blend"}
        hidden |= {"lod_tau_scale"} if self.source == "subsets" else {"shares", "subset_score"}
        return hidden


@dataclass(frozen=True)
class StreamSettings:
    """Out-of-core viewing of a streamed SOG (lod-meta.json): what stays resident, and how fine.

    Chunks are read on worker threads as the camera needs them, coarse first; each leaf of the
    scene's spatial tree is drawn at the coarsest level whose Gaussians lie at most `detail`
    pixels apart on screen, as far as the budgets allow.
    """

    gpu_budget_mb: float = setting(
        512.0, "GPU memory the streamed scene's resident Gaussians may hold", unit="MB",
        range=(0.01, 1_000_000.0),
    )  # fmt: skip
    host_budget_mb: float = setting(
        1024.0, "host memory for decoded chunks (least recently used ones are dropped)",
        unit="MB", range=(0.01, 1_000_000.0),
    )  # fmt: skip
    detail: float = setting(
        1.0, "a leaf is refined while its Gaussians lie further apart than this on screen",
        unit="pixels", range=(0.05, 100.0),
    )  # fmt: skip


# -- the viewer window's own settings -----------------------------------------------------------

NAVIGATION_MODES = ("orbit", "fly")
UP_AXES: dict[str, tuple[float, float, float]] = {
    "+Z": (0.0, 0.0, 1.0),
    "-Z": (0.0, 0.0, -1.0),
    "+Y": (0.0, 1.0, 0.0),
    "-Y": (0.0, -1.0, 0.0),
    "+X": (1.0, 0.0, 0.0),
    "-X": (-1.0, 0.0, 0.0),
}
FOV_RANGE = (10.0, 120.0)  # vertical field of view, degrees


@dataclass(frozen=True)
class CameraOptions:
    """How the viewer's camera moves and projects."""

    mode: str = setting(
        "orbit", "orbit around a pivot, or fly (WASD + mouse look)", choices=NAVIGATION_MODES
    )
    up_axis: str = setting("+Z", "world direction shown up on screen", choices=tuple(UP_AXES))
    fov_y_degrees: float = setting(50.0, "vertical field of view", unit="degrees", range=FOV_RANGE)


@dataclass(frozen=True)
class DisplayOptions:
    """What the window shows and how often it draws."""

    vsync: bool = setting(True, "wait for the display refresh before showing a frame")
    redraw: bool = setting(
        False,
        "render the splats every frame even when nothing changed (for timing; "
        "otherwise only on change)",
    )
    panel: bool = setting(True, "this settings panel (U brings it back)")
    overlay: bool = setting(False, "timing overlay: FPS, frame-time graph, per-pass times")
    help: bool = setting(False, "the window listing every shortcut")
    frustums: bool = setting(
        False, "the training cameras as frustums over the view (click one to fly there)"
    )
    axes: bool = setting(False, "the world axes at the origin (X red, Y green, Z blue)")
    grid: bool = setting(False, "a ground grid under the scene, perpendicular to the up axis")
    points: bool = setting(
        False, "the SfM points that came with the scene (COLMAP points3D, input.ply) as dots"
    )


@dataclass(frozen=True)
class CaptureOptions:
    """Screenshots and camera path keyframes."""

    width: int = setting(0, "screenshot width; 0 = the window's", unit="pixels", range=(0, 8192))
    height: int = setting(0, "screenshot height; 0 = the window's", unit="pixels", range=(0, 8192))
    keyframe_step: float = setting(
        2.0, "time between a new keyframe and the previous one", unit="s", range=(0.1, 30.0)
    )


# -- training (`splatscope train`) and the live view's controls ---------------------------------

TRAIN_BACKENDS = ("auto", "gsplat", "reference")
TRAIN_DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainSettings:
    """How `splatscope train` fits Gaussians to a dataset (3DGS defaults unless noted)."""

    iterations: int = setting(7000, "optimisation steps (--train.batch images each)",
                              range=(1, 10_000_000))  # fmt: skip
    backend: str = setting(
        "auto",
        "differentiable rasterizer: gsplat (CUDA, extra [cuda]), the torch reference renderer, or "
        "gsplat where it runs and the reference elsewhere",
        choices=TRAIN_BACKENDS,
    )
    device: str = setting(
        "auto", "torch device: cuda where a GPU is, else cpu", choices=TRAIN_DEVICES
    )
    batch: int = setting(
        1, "training images per step, over all processes (the loss is their mean)",
        range=(1, 4096),
    )  # fmt: skip
    sh_degree: int = setting(3, "highest SH degree of the model", range=(0, 3))
    sh_degree_every: int = setting(
        1000, "steps between raising the SH degree trained by one", range=(1, 1_000_000)
    )
    init: str = setting(
        "auto",
        "initial Gaussians: the dataset's points (COLMAP points3D, a NeRF-synthetic points3d.ply), "
        "random in the cameras' view, or points where the dataset has some",
        choices=("auto", "points", "random"),
    )
    init_count: int = setting(
        100_000, "most initial Gaussians (random ones, or a subsample of the points)",
        range=(1, 50_000_000),
    )  # fmt: skip
    position_lr: float = setting(
        1.6e-4, "learning rate of the means (times the scene extent), decayed 100x over the run",
        range=(0.0, 1.0),
    )  # fmt: skip
    lambda_dssim: float = setting(0.2, "weight of D-SSIM against L1 in the loss", range=(0, 1))
    densify_from: int = setting(500, "first step of densification", range=(0, 10_000_000))
    densify_until: int = setting(15_000, "last step of densification", range=(0, 10_000_000))
    densify_every: int = setting(100, "steps between densifications", range=(1, 1_000_000))
    densify_grad: float = setting(
        0.0002, "mean screen-space gradient (NDC) above which a Gaussian is cloned or split",
        range=(0.0, 1.0),
    )  # fmt: skip
    prune_opacity: float = setting(
        0.005, "Gaussians below this opacity are pruned when densifying", range=(0.0, 1.0)
    )
    opacity_reset_every: int = setting(
        3000, "steps between opacity resets (0: never)", range=(0, 10_000_000)
    )
    max_gaussians: int = setting(
        0, "densification stops adding Gaussians beyond this many (0: no limit)",
        range=(0, 1_000_000_000),
    )  # fmt: skip
    test_every: int = setting(
        8, "every N-th image is held out for evaluation (datasets without a test split)",
        range=(2, 1_000_000),
    )  # fmt: skip
    downscale: int = setting(1, "train on images shrunk by this factor", range=(1, 64))
    background: str = setting(
        "auto",
        "background behind the Gaussians (and under transparent image pixels): white for images "
        "with alpha, as NeRF-synthetic trainers do, black otherwise",
        choices=("auto", "black", "white"),
    )
    save_every: int = setting(
        0, "write point_cloud/iteration_N and a checkpoint every N steps (0: at the end only)",
        range=(0, 10_000_000),
    )  # fmt: skip
    seed: int = setting(0, "random seed (initialisation, image order, splits)",
                        range=(0, 2**31 - 1))  # fmt: skip


@dataclass(frozen=True)
class LiveControls:
    """What the live view's panel steers in the training loop it is attached to."""

    paused: bool = setting(False, "hold the training loop before its next step")
    lr_scale: float = setting(1.0, "multiplier on every learning rate", range=(0.001, 100.0))
    sh_degree: int = setting(3, "highest SH degree trained (capped by the model's)", range=(0, 3))
    densify: bool = setting(True, "densify, prune and reset opacities on the schedule")
    update_rate: float = setting(
        10.0, "most model updates sent to the view per second", unit="Hz", range=(0.1, 60.0)
    )


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsGroup:
    """One settings dataclass and where it is offered.

    Attributes:
        name: the namespace of its keys (`render.sh_degree`, CLI `--render.sh-degree`).
        cls: the frozen settings dataclass.
        title: the viewer panel's section title.
        commands: the `splatscope` commands whose flags include its settings.
        bench: whether bench configs may set it.
        panel: whether the viewer's panel shows it as a section (the live view's controls have
            their own window).
    """

    name: str
    cls: type
    title: str
    commands: tuple[str, ...] = ()
    bench: bool = False
    panel: bool = True


GROUPS: tuple[SettingsGroup, ...] = (
    SettingsGroup("camera", CameraOptions, "Camera"),
    SettingsGroup("render", RenderSettings, "Render", ("view", "render"), bench=True),
    SettingsGroup("raster", RasterSettings, "Raster", ("view", "render"), bench=True),
    SettingsGroup("display", DisplayOptions, "Display"),
    SettingsGroup("capture", CaptureOptions, "Capture and camera path"),
    SettingsGroup("prune", PruneSettings, "Pruning", ("view", "prune", "render"), bench=True),
    SettingsGroup("lod", LodSettings, "Level of detail", ("view", "render"), bench=True),
    SettingsGroup("fov", FoveationSettings, "Foveation", ("view", "render"), bench=True),
    SettingsGroup("stream", StreamSettings, "Streaming", ("view", "render"), bench=True),
    SettingsGroup("train", TrainSettings, "Training", ("train",), panel=False),
    SettingsGroup("live", LiveControls, "Live training", panel=False),
)
