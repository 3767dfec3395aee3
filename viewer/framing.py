"""Default views of a scene: its own cameras, a framing of its bounds, rings of views around it.

The world's up axis comes from the scene's training cameras when it has some, else from its
geometry (`guess_up_axis`), or from the user (`UP_CHOICES`, the `--up` flag). Framings are
computed in float64 and refused (SceneError) when the GPU's float32 arithmetic could not render
the view they give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.scene import GaussianScene
from viewer.settings import UP_AXES, RenderSettings

UP_CHOICES = ("auto", *UP_AXES)  # the --up flag: guess it, or one of the six axis directions

# framings keep the scene beyond the renderer's near plane (0: fitted to the scene, far inside)
DEFAULT_NEAR_PLANE = RenderSettings().near_plane
DEFAULT_FOV_Y_DEGREES = 50.0

# Guessing the up axis of a scene without cameras (see guess_up_axis)
FLAT_RATIO = 0.25  # smallest / middle variance below this: plane-like, the plane's normal is up
LONG_RATIO = 4.0  # largest / middle variance above this: an upright figure, its long axis is up
GROUND_SLAB = 0.05  # thickness of the slab at either end looked at for a ground (of the extent)
GROUND_SHARE = 0.2  # share of the centres in that slab that makes it a ground ...
GROUND_DOMINANCE = 2.0  # ... when the other end's slab holds at most this many times fewer
SIZE_RATIO = 1.5  # median splat size on one side over the other's that decides the X sign
FACE_RATIO = 0.5  # horizontal variances: the smaller under this share of the larger faces us
FACE_SIZE_RATIO = 1.2  # median splat size behind over in front that picks the front side
CONVENTION_SIGN = (1.0, -1.0, 1.0)  # X: none (+X); Y: -Y, y points down in the capture's RDF
# frame of camera-free files (.splat, .spz, SuperSplat); Z: +Z, z-up worlds
GUESS_SAMPLE = 200_000  # centres looked at (an even stride over larger scenes)

# Scenes captured from inside (a room; see is_inside_out, guess_up_inside, inside_view)
DIRECTION_CELLS = 4  # cells per side of each cube face binning the directions from the centre
SURROUND_SHARE = 0.9  # share of the 6 * 4 * 4 direction cells that must hold centres ...
SURROUND_FILL = 0.2  # ... at least this fraction of an even share each
OUTWARD_GROWTH = 1.5  # median splat size of the farther half over the nearer: seen from inside
END_SLAB = 0.05  # share of the box's extent at either end looked at for a floor and a ceiling
FLOOR_CONTRAST = 1.0  # |log(count ratio) - log(size ratio)| of the ends that makes a floor ...
FLOOR_DOMINANCE = 2.0  # ... when that many times the contrast along any other axis
EYE_HEIGHT = 0.6  # of the way from the floor to the ceiling
PULL_BACK = 0.5  # of the room's half width: how far behind the centre the eye stands

# What the GPU's float32 arithmetic can render (see check_renderable)
FLOAT32_REACH = 1e18  # largest |coordinate| of the eye or the framed box; squares stay finite
FLOAT32_DIGITS = 1e6  # largest (distance from the origin) / (size) of a framed box


def axis_vector(label: str) -> np.ndarray:
    """[3] float64 unit vector of an UP_AXES label ("+Z" ... "-X").

    Raises:
        ValueError: for another label.
    """
    if label not in UP_AXES:
        raise ValueError(f"unknown up axis {label!r}; use one of {', '.join(UP_AXES)}")
    return np.array(UP_AXES[label])


def axis_label(up: np.ndarray) -> str:
    """The UP_AXES label nearest to the direction `up`."""
    return max(UP_AXES, key=lambda label: float(np.dot(UP_AXES[label], up)))


def resolve_up(scene: GaussianScene, choice: str = "auto") -> np.ndarray:
    """[3] float64 world up for an UP_CHOICES value: guessed for "auto", else that axis."""
    return guess_up_axis(scene) if choice == "auto" else axis_vector(choice)


def _snapped(direction: np.ndarray) -> np.ndarray:
    """The signed coordinate axis nearest to `direction`."""
    axis = int(np.argmax(np.abs(direction)))
    snapped = np.zeros(3)
    snapped[axis] = 1.0 if direction[axis] >= 0.0 else -1.0
    return snapped


def guess_up_axis(scene: GaussianScene) -> np.ndarray:
    """[3] float64 world up, snapped to one of the six axis directions.

    With training cameras: their -y axis (up on their screens), averaged. Without: from the
    geometry of the centres (`guess_up_from_geometry`).
    """
    if scene.cameras:
        ups = np.array([-c.camera_to_world[:3, 1] for c in scene.cameras])
        up = ups.mean(axis=0)
        if np.linalg.norm(up) > 1e-6:
            return _snapped(up)
    return guess_up_from_geometry(scene.means, scene.scales)


def _sample(count: int) -> slice:
    """An even stride picking at most GUESS_SAMPLE of `count` rows."""
    return slice(None, None, max(1, -(-count // GUESS_SAMPLE)))


def _trimmed(means: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([M, 3] float64 centres, [M] float64 largest scales) of a sample of the Gaussians.

    Only those whose centre lies inside the 1-99 % box of the centres.
    """
    rows = _sample(means.shape[0])
    points = np.asarray(means[rows], dtype=np.float64)
    sizes = np.asarray(scales[rows], dtype=np.float64).max(axis=1)
    lo, hi = np.quantile(points, [0.01, 0.99], axis=0)
    inside = ((points >= lo) & (points <= hi)).all(axis=1)
    return points[inside], sizes[inside]


def _principal_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(variances ascending, [D, D] unit axes as columns) of points [M, D], scale-free.

    None for fewer than 4 points or no spread.
    """
    if points.shape[0] < 4:
        return None
    centred = points - points.mean(axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = float(np.abs(centred).max())
        if not (math.isfinite(scale) and scale > 0.0):
            return None
        centred /= scale  # no overflow in the covariance of huge coordinates
        return np.linalg.eigh(centred.T @ centred / centred.shape[0])


def guess_up_from_geometry(means: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """[3] float64 up of a scene without cameras, from its centres [N, 3] and scales [N, 3].

    The axis: principal axes of the centres inside their 1-99 % box. A plane-like cloud (the
    smallest variance under FLAT_RATIO of the middle one: a ground, a table top, a landscape)
    has its normal up; else an elongated one (the largest over LONG_RATIO times the middle: a
    standing figure) its long axis; else nothing in the shape says, and -Y (the convention
    below) is up. The axis is snapped to the nearest coordinate axis.

    A scene captured from inside (`is_inside_out`) takes its up from `guess_up_inside`.

    The sign: away from a ground, a thin slab at one end of the axis holding a large share of
    the centres (objects stand on the ground); without one, the convention of camera-free
    files: -Y (the RDF frame of captures and web tools, y pointing down) or +Z (z-up worlds);
    along X, which has none, the side with the smaller splats (surfaces seen from above are
    resolved better than their undersides), else +X.
    """
    points, sizes = _trimmed(means, scales)
    fallback = np.array([0.0, -1.0, 0.0])
    if _surrounds(points, sizes):
        return guess_up_inside(points, sizes)
    principal = _principal_axes(points)
    if principal is None:
        return fallback
    variances, axes = principal
    smallest, middle, largest = variances
    if smallest < FLAT_RATIO * middle:
        direction = axes[:, 0]
    elif largest > LONG_RATIO * middle:
        direction = axes[:, 2]
    else:
        return fallback
    up = np.abs(_snapped(direction))
    axis = int(np.argmax(up))
    return up * _up_sign(points[:, axis], sizes, axis)


def _box(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([3] centre, [3] half extent, at least tiny) of the bounding box of points [M, 3]."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    return lo / 2.0 + hi / 2.0, np.maximum(hi / 2.0 - lo / 2.0, np.finfo(np.float64).tiny)


def _direction_cells(offsets: np.ndarray) -> np.ndarray:
    """[M] cube-map cell (6 faces, DIRECTION_CELLS^2 cells each) of the offsets' directions."""
    magnitude = np.abs(offsets)
    axis = magnitude.argmax(axis=1)
    rows = np.arange(offsets.shape[0])
    reach = np.maximum(magnitude[rows, axis], np.finfo(np.float64).tiny)
    face = 2 * axis + (offsets[rows, axis] > 0.0)
    cells = [
        np.clip((offsets[rows, (axis + k) % 3] / reach + 1.0) * DIRECTION_CELLS // 2, 0, None)
        .astype(np.int64)
        .clip(max=DIRECTION_CELLS - 1)
        for k in (1, 2)
    ]
    return (face * DIRECTION_CELLS + cells[0]) * DIRECTION_CELLS + cells[1]


def _surrounds(points: np.ndarray, sizes: np.ndarray) -> bool:
    """Whether centres [M, 3] with largest scales [M] were captured from inside (is_inside_out)."""
    if points.shape[0] < 4:
        return False
    center, half = _box(points)
    offsets = (points - center) / half
    cells = 6 * DIRECTION_CELLS**2
    counts = np.bincount(_direction_cells(offsets), minlength=cells)
    if np.mean(counts >= SURROUND_FILL * points.shape[0] / cells) < SURROUND_SHARE:
        return False
    distance = np.linalg.norm(offsets, axis=1)
    middle = float(np.median(distance))
    near, far = sizes[distance <= middle], sizes[distance > middle]
    if not (near.size and far.size):
        return False
    return float(np.median(far)) >= OUTWARD_GROWTH * float(np.median(near))


def is_inside_out(scene: GaussianScene) -> bool:
    """Whether the scene was captured from inside (a room), not around an object.

    The centres inside their 1-99 % box surround its centre (at least SURROUND_SHARE of the
    direction cells of a cube map, in box-normalised coordinates, hold SURROUND_FILL of an even
    share), and the splats grow outward (a pixel's footprint grows with the distance from the
    capture): the farther half's median size OUTWARD_GROWTH times the nearer half's. A closed
    object also surrounds its centre, but its splats do not grow away from it.
    """
    return _surrounds(*_trimmed(scene.means, scene.scales))


def _floor_contrast(points: np.ndarray, sizes: np.ndarray, axis: int) -> float:
    """How much more floor-like the low end of `axis` is than the high end (log units).

    Log of the ratio of the counts of centres in the END_SLAB at either end, less the log of the
    ratio of their median sizes: a floor holds more and smaller splats than a plain ceiling.
    """
    values = points[:, axis]
    lo, hi = float(values.min()), float(values.max())
    slab = END_SLAB * (hi - lo)
    low, high = values <= lo + slab, values >= hi - slab
    if not (low.any() and high.any()):
        return 0.0
    tiny = np.finfo(np.float64).tiny
    counts = math.log(low.sum() / high.sum())
    size_low, size_high = (max(float(np.median(sizes[end])), tiny) for end in (low, high))
    return counts - math.log(size_low / size_high)


def guess_up_inside(points: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """[3] float64 up of a scene captured from inside, from centres [M, 3] and largest scales [M].

    Up points from the floor to the ceiling: the axis whose two ends differ most
    (`_floor_contrast` at least FLOOR_CONTRAST, FLOOR_DOMINANCE times any other axis's), away
    from the end with more, smaller splats. Opposite walls look alike. Without such an axis:
    -Y, the convention of camera-free files.
    """
    contrasts = np.array([_floor_contrast(points, sizes, axis) for axis in range(3)])
    order = np.argsort(-np.abs(contrasts))
    best, second = contrasts[order[0]], contrasts[order[1]]
    up = np.zeros(3)
    if abs(best) >= FLOOR_CONTRAST and abs(best) >= FLOOR_DOMINANCE * abs(second):
        up[order[0]] = 1.0 if best > 0.0 else -1.0
    else:
        up[1] = CONVENTION_SIGN[1]
    return up


def _up_sign(values: np.ndarray, sizes: np.ndarray, axis: int) -> float:
    """+1 or -1: which end of the coordinates `values` along `axis` is up.

    See guess_up_from_geometry.
    """
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        return CONVENTION_SIGN[axis]
    slab = GROUND_SLAB * (hi - lo)
    low, high = float(np.mean(values <= lo + slab)), float(np.mean(values >= hi - slab))
    if max(low, high) >= GROUND_SHARE and max(low, high) >= GROUND_DOMINANCE * min(low, high):
        return 1.0 if low > high else -1.0  # up points away from the ground
    if axis == 0:
        middle = float(np.median(values))
        below, above = sizes[values < middle], sizes[values > middle]
        if below.size and above.size:
            below_size, above_size = float(np.median(below)), float(np.median(above))
            if below_size >= SIZE_RATIO * above_size:
                return 1.0
            if above_size >= SIZE_RATIO * below_size:
                return -1.0
    return CONVENTION_SIGN[axis]


def _horizontal_basis(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors perpendicular to `up` and each other.

    The first is frame_bounds' default viewing side.
    """
    side = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    side /= np.linalg.norm(side)
    return side, np.cross(side, up)


def facing_direction(scene: GaussianScene, up: np.ndarray) -> np.ndarray | None:
    """[3] float64 horizontal direction from the scene towards a viewer facing its broad side.

    None when the scene has none.

    A scene thin along a horizontal direction is best seen along it: its thinnest principal
    axis when that is more horizontal than vertical and its variance under FACE_RATIO of the
    next (a standing figure, even leaning, a facade), else the thinner horizontal axis of its
    horizontal spread by the same ratio (a long wall on a ground). The front is the side with
    the smaller splats, where a capture resolved the surface better (by FACE_SIZE_RATIO), else
    the side nearer frame_bounds' default.
    """
    up = np.asarray(up, np.float64)
    points, sizes = _trimmed(scene.means, scene.scales)
    side, across = _horizontal_basis(up)
    direction = None
    principal = _principal_axes(points)
    if principal is not None:
        variances, axes = principal
        thinnest = axes[:, 0] - (axes[:, 0] @ up) * up
        if variances[0] < FACE_RATIO * variances[1] and np.linalg.norm(thinnest) > math.sqrt(0.5):
            direction = thinnest / np.linalg.norm(thinnest)
    if direction is None:
        principal = _principal_axes(points @ np.stack([side, across], axis=1))
        if principal is None or not principal[0][0] < FACE_RATIO * principal[0][1]:
            return None
        direction = principal[1][0, 0] * side + principal[1][1, 0] * across
    along = points @ direction
    middle = float(np.median(along))
    behind, front = sizes[along < middle], sizes[along > middle]
    if behind.size and front.size:
        behind_size, front_size = float(np.median(behind)), float(np.median(front))
        if front_size >= FACE_SIZE_RATIO * behind_size:
            return -direction
        if behind_size >= FACE_SIZE_RATIO * front_size:
            return direction
    return direction if direction @ side >= 0.0 else -direction


def inside_view(
    scene: GaussianScene,
    up: np.ndarray,
    width: int = 1280,
    height: int = 720,
    fov_y_degrees: float = DEFAULT_FOV_Y_DEGREES,
) -> Camera:
    """A level view from inside a scene captured from inside (`is_inside_out`).

    It looks horizontally along the room's long axis (the larger principal axis of the
    horizontal spread of the centres inside their 1-99 % box), towards the half holding more
    centres. The eye stands EYE_HEIGHT of the way from the floor to the ceiling (the ends along
    `up`) and PULL_BACK of the room's half width behind the box's centre: the middle of the room
    and the far wall in view, and an orbit about the centre stays inside.
    """
    up = np.asarray(up, np.float64)
    points, _ = _trimmed(scene.means, scene.scales)
    center, _ = _box(points)
    offsets = points - center
    side, across = _horizontal_basis(up)
    principal = _principal_axes(offsets @ np.stack([side, across], axis=1))
    ahead = side if principal is None else principal[1][0, 1] * side + principal[1][1, 1] * across
    if np.sum(offsets @ ahead < 0.0) > np.sum(offsets @ ahead > 0.0):
        ahead = -ahead
    half_width = float(np.ptp(offsets @ np.cross(up, ahead))) / 2.0
    heights = offsets @ up
    rise = float(heights.min()) + EYE_HEIGHT * float(np.ptp(heights))
    eye = center + rise * up - PULL_BACK * half_width * ahead
    return Camera.look_at(eye, eye + ahead, up, width, height, fov_y_degrees)


def framing_bounds(scene: GaussianScene) -> tuple[np.ndarray, np.ndarray]:
    """([3], [3]) float64 box to frame: the centres' 1-99 % box, at least the splats' extent.

    Along an axis where the centres have no spread (one Gaussian, all at one point, a flat
    layer) the box reaches 3 sigma of the larger splats (90th percentile of the largest scale)
    either way of the centre, so the splats themselves fill the view.

    Raises:
        SceneError: when even float64 cannot hold the box (it cannot: the centres are float32).
    """
    lo, hi = (np.asarray(b, dtype=np.float64) for b in scene.robust_bounds())
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):  # float32 quantiles overflowed
        means = scene.means[_sample(scene.count)]
        lo, hi = np.quantile(means, [0.01, 0.99], axis=0, method="nearest").astype(np.float64)
    sizes = scene.scales[_sample(scene.count)].max(axis=1)
    reach = 3.0 * float(np.quantile(sizes.astype(np.float64), 0.9))
    center = lo / 2.0 + hi / 2.0
    half = np.maximum(hi / 2.0 - lo / 2.0, reach)
    return center - half, center + half


def check_renderable(
    lo: np.ndarray, hi: np.ndarray, eye: np.ndarray, source: str = "<scene>"
) -> None:
    """Raise SceneError when float32 GPU arithmetic cannot render the box [lo, hi] from `eye`.

    The GPU transforms and projects in float32: coordinates beyond FLOAT32_REACH overflow when
    squared (covariances, depths), and a box more than FLOAT32_DIGITS times smaller than its
    distance from the origin falls between float32's representable positions.
    """
    lo, hi, eye = (np.asarray(v, np.float64) for v in (lo, hi, eye))
    with np.errstate(over="ignore", invalid="ignore"):
        box_reach = float(max(np.abs(lo).max(), np.abs(hi).max()))
        reach = max(box_reach, float(np.abs(eye).max()))
        size = float(np.abs(hi - lo).max())
    if not (math.isfinite(reach) and reach <= FLOAT32_REACH):
        raise SceneError(
            source,
            f"the scene reaches {reach:.3g} from the origin, beyond what float32 rendering can "
            f"frame (up to {FLOAT32_REACH:.0e}); rescale it",
        )
    if box_reach > FLOAT32_DIGITS * max(size, np.finfo(np.float64).tiny):
        raise SceneError(
            source,
            f"the scene is {size:.3g} across but {box_reach:.3g} from the origin: float32 "
            "rendering cannot resolve it there; move it nearer the origin",
        )


def frame_bounds(
    lo: np.ndarray,
    hi: np.ndarray,
    up: np.ndarray,
    width: int = 1280,
    height: int = 720,
    fov_y_degrees: float = DEFAULT_FOV_Y_DEGREES,
    near_plane: float = DEFAULT_NEAR_PLANE,
    facing: np.ndarray | None = None,
) -> Camera:
    """A camera looking at the box [lo, hi] from above and in front, the whole box in view.

    "In front" is the horizontal direction `facing` (see facing_direction) or, when None, a
    fixed one. The camera stays far enough that the box lies beyond `near_plane`. All in
    float64.
    """
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    center = lo / 2.0 + hi / 2.0
    radius = max(float(np.linalg.norm(hi / 2.0 - lo / 2.0)), 1e-6)
    up = np.asarray(up, np.float64)
    side = _horizontal_basis(up)[0] if facing is None else np.asarray(facing, np.float64)
    direction = side + 0.6 * up
    direction /= np.linalg.norm(direction)
    half_fov = np.radians(fov_y_degrees) / 2.0 * min(1.0, width / height)
    distance = max(radius / np.sin(half_fov), radius + 1.25 * near_plane)
    return Camera.look_at(center + direction * distance, center, up, width, height, fov_y_degrees)


def default_camera(
    scene: GaussianScene,
    width: int = 1280,
    height: int = 720,
    up: str = "auto",
    near_plane: float = DEFAULT_NEAR_PLANE,
) -> Camera:
    """The view a scene opens with.

    With `up` "auto" and training cameras: the first of them, resized. Else, with `up`
    (`resolve_up`) pointing up on screen: for a scene captured from inside (`is_inside_out`) a
    level view from inside it (`inside_view`), for others a framing of `framing_bounds`.

    Raises:
        SceneError: when float32 rendering cannot frame the scene (`check_renderable`).
    """
    if up == "auto" and scene.cameras:
        first = scene.cameras[0]
        return first.resized(width, max(1, round(width * first.height / first.width)))
    lo, hi = framing_bounds(scene)
    up_vector = resolve_up(scene, up)
    if is_inside_out(scene):
        camera = inside_view(scene, up_vector, width, height)
    else:
        facing = facing_direction(scene, up_vector)
        camera = frame_bounds(
            lo, hi, up_vector, width, height, near_plane=near_plane, facing=facing
        )
    check_renderable(lo, hi, camera.position, scene.source)
    return camera


@dataclass(frozen=True)
class Ring:
    """Cameras on a sphere around a centre, all looking at it with `up` up on screen.

    Attributes:
        center: [3] float64 point looked at.
        up: [3] float64 unit world up.
        start: [3] float64 unit horizontal direction (perpendicular to up) at azimuth 0.
        distance: distance from the centre at scale 1.
        elevation: elevation of the framing view (radians).
        fov_y_degrees: vertical field of view.
    """

    center: np.ndarray
    up: np.ndarray
    start: np.ndarray
    distance: float
    elevation: float
    fov_y_degrees: float

    @classmethod
    def framing(cls, scene: GaussianScene, width: int, height: int, up: str = "auto") -> Ring:
        """The ring through the default framing of the scene's `framing_bounds`.

        Args:
            scene: the scene framed.
            width: view width in pixels (with `height`, the aspect the framing fits).
            height: view height in pixels.
            up: an UP_CHOICES value (`resolve_up`).

        Raises:
            SceneError: when float32 rendering cannot frame the scene (`check_renderable`).
        """
        lo, hi = framing_bounds(scene)
        up_vector = resolve_up(scene, up)
        facing = facing_direction(scene, up_vector)
        view = frame_bounds(lo, hi, up_vector, width, height, facing=facing)
        check_renderable(lo, hi, view.position, scene.source)
        center = lo / 2.0 + hi / 2.0
        offset = view.position - center
        rise = float(offset @ up_vector)
        horizontal = offset - rise * up_vector
        across = float(np.linalg.norm(horizontal))
        return cls(
            center=center,
            up=up_vector,
            start=horizontal / across,
            distance=float(np.linalg.norm(offset)),
            elevation=math.atan2(rise, across),
            fov_y_degrees=view.fov_y_degrees,
        )

    def camera(
        self,
        azimuth: float,
        elevation: float,
        scale: float,
        width: int,
        height: int,
        name: str = "",
    ) -> Camera:
        """The camera at `azimuth` (radians about `up`), `elevation`, `scale` times the distance."""
        k = self.up
        # Rodrigues rotation of `start` about `up` (start is perpendicular to up)
        horizontal = self.start * math.cos(azimuth) + np.cross(k, self.start) * math.sin(azimuth)
        direction = horizontal * math.cos(elevation) + k * math.sin(elevation)
        eye = self.center + direction * self.distance * scale
        return Camera.look_at(eye, self.center, k, width, height, self.fov_y_degrees, name)
