"""The viewer's camera: state and input mapping in pure Python (no GL, no window).

The camera sits at `eye`, looks along a direction given by `yaw` and `pitch` about the world up
axis, is rolled by `roll` about that direction, and orbits a `pivot` `distance` ahead of it.
Orbit mode: left drag orbits the pivot, scroll zooms. Fly mode: left drag looks around, scroll
sets the flying speed. Both: right/middle drag pans, held keys move (forward, back, left, right,
up, down; "fast" multiplies the speed) and roll. Jumps to other views are smooth transitions.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from viewer.camera import Camera
from viewer.framing import axis_label, axis_vector
from viewer.pose import Pose
from viewer.settings import FOV_RANGE, NAVIGATION_MODES, CameraOptions

MOVES = ("forward", "back", "left", "right", "up", "down")  # held-key actions that move
ROLLS = {"roll_left": -1.0, "roll_right": 1.0}  # held-key actions that roll, with their sign
FAST = "fast"  # held-key action that speeds up moving

ORBIT_RADIANS_PER_PIXEL = math.radians(0.3)
LOOK_RADIANS_PER_PIXEL = math.radians(0.12)
ZOOM_PER_STEP = 0.85  # distance factor per scroll step (towards the pivot)
SPEED_PER_STEP = 1.25  # fly speed factor per scroll step
FAST_FACTOR = 4.0
ROLL_RADIANS_PER_SECOND = math.radians(45.0)
MAX_PITCH = math.radians(89.0)
DISTANCE_RANGE = (1e-3, 1e3)  # times the scene radius
SPEED_RANGE = (1e-4, 1e3)  # per second, times the scene radius
TRANSITION_SECONDS = 0.8


def smoothstep(t: float) -> float:
    """3t^2 - 2t^3 of t clamped to [0, 1]: eases in and out."""
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cross product of two [3] vectors (np.cross costs 30 us a call; a frame takes many)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


@dataclass(frozen=True)
class _Transition:
    """A smooth move from one pose to another; `end_distance` is the pivot distance after it."""

    start: Pose
    end: Pose
    end_distance: float
    duration: float
    elapsed: float = 0.0

    @property
    def done(self) -> bool:
        return self.elapsed >= self.duration

    def pose(self) -> Pose:
        return self.start.blend(self.end, smoothstep(self.elapsed / self.duration))


class CameraController:
    """Camera state driven by mouse drags, scroll steps, held keys and jumps between views.

    Attributes:
        mode: "orbit" or "fly".
        up_axis: key of UP_AXES, the world direction shown up on screen (at zero roll).
        pivot: [3] float64 point orbited and zoomed towards.
        distance: from the eye to the pivot.
        yaw, pitch, roll: radians; yaw about the up axis, pitch above the horizon.
        fov_y_degrees: vertical field of view.
        fly_speed: world units per second of held movement keys.
        radius: size of the scene (bounds zoom, sets the default speed).
        home: the view that `reset` returns to.
    """

    def __init__(self, up_axis: str = "+Z", radius: float = 1.0) -> None:
        axis_vector(up_axis)  # validates
        self.mode = "orbit"
        self.up_axis = up_axis
        self.pivot = np.zeros(3)
        self.distance = radius
        self.yaw = self.pitch = self.roll = 0.0
        self.fov_y_degrees = 50.0
        self.radius = radius
        self.near_plane = 0.0  # the frame's near plane: orbit zoom stops at twice its distance
        self.fly_speed = 0.5 * radius
        self.home: Camera | None = None
        self.bounds: tuple[np.ndarray, np.ndarray] = (-np.ones(3) * radius, np.ones(3) * radius)
        self._transition: _Transition | None = None

    @classmethod
    def for_scene(
        cls, lo: np.ndarray, hi: np.ndarray, up: np.ndarray, home: Camera
    ) -> CameraController:
        """A controller for a scene with centre bounds [lo, hi], world `up`, starting at `home`."""
        lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        controller = cls(axis_label(up), max(float(np.linalg.norm(hi - lo)) / 2.0, 1e-6))
        controller.bounds = (lo, hi)
        controller.home = home
        controller.go_to(home, duration=0.0)
        return controller

    # -- derived state -------------------------------------------------------------------------

    @property
    def up(self) -> np.ndarray:
        """[3] float64 world up."""
        return axis_vector(self.up_axis)

    @property
    def options(self) -> CameraOptions:
        """The camera settings group: the controller owns its mode, up axis and FOV."""
        return CameraOptions(self.mode, self.up_axis, self.fov_y_degrees)

    @property
    def center(self) -> np.ndarray:
        """[3] float64 centre of the scene bounds."""
        return (self.bounds[0] + self.bounds[1]) / 2.0

    def _horizontal_frame(self) -> tuple[np.ndarray, np.ndarray]:
        """Two unit vectors spanning the plane perpendicular to up (yaw 0 and yaw 90 degrees)."""
        up = self.up
        helper = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        a = helper - (helper @ up) * up
        a /= np.linalg.norm(a)
        return a, _cross(up, a)

    @property
    def rotation(self) -> np.ndarray:
        """[3, 3] float64 camera-to-world rotation (columns right, down, forward)."""
        a, b = self._horizontal_frame()
        heading = math.cos(self.yaw) * a + math.sin(self.yaw) * b
        forward = math.cos(self.pitch) * heading + math.sin(self.pitch) * self.up
        level_right = _cross(heading, self.up)
        level_down = _cross(forward, level_right)
        right = math.cos(self.roll) * level_right + math.sin(self.roll) * level_down
        return np.stack([right, _cross(forward, right), forward], axis=1)

    @property
    def forward(self) -> np.ndarray:
        """[3] float64 unit view direction."""
        return self.rotation[:, 2]

    @property
    def eye(self) -> np.ndarray:
        """[3] float64 camera position."""
        return self.pivot - self.forward * self.distance

    @property
    def pose(self) -> Pose:
        """The pose now (mid-transition: the interpolated one)."""
        if self._transition is not None:
            return self._transition.pose()
        return Pose(self.eye, self.rotation, self.fov_y_degrees)

    @property
    def in_transition(self) -> bool:
        """True while a smooth jump to another view runs."""
        return self._transition is not None

    def camera(self, width: int, height: int) -> Camera:
        """The view as a centred pinhole camera for an image of `width` x `height` pixels."""
        return self.pose.camera(width, height)

    # -- setting the view ----------------------------------------------------------------------

    def set_pose(self, pose: Pose, distance: float) -> None:
        """Look from `pose` (ends any transition) with the pivot `distance` ahead."""
        self._transition = None
        a, b = self._horizontal_frame()
        up = self.up
        forward, right = pose.rotation[:, 2], pose.rotation[:, 0]
        self.pitch = math.asin(float(np.clip(forward @ up, -1.0, 1.0)))
        if math.cos(self.pitch) > 1e-9:
            heading = forward - (forward @ up) * up
        else:  # looking straight along up: the heading is the one that leaves no roll
            heading = np.cross(up, right)
        self.yaw = math.atan2(float(heading @ b), float(heading @ a))
        level_right = np.cross(heading / np.linalg.norm(heading), up)
        level_down = np.cross(forward, level_right)
        self.roll = math.atan2(float(right @ level_down), float(right @ level_right))
        self.fov_y_degrees = float(pose.fov_y_degrees)
        self.distance = float(distance)
        self.pivot = pose.eye + forward * self.distance

    def go_to(self, camera: Camera, duration: float = TRANSITION_SECONDS) -> None:
        """Move smoothly to `camera`'s pose; the pivot goes to the depth of the scene centre."""
        target = Pose.of(camera)
        depth = float((self.center - target.eye) @ target.rotation[:, 2])
        distance = max(depth, 0.05 * self.radius)
        if duration <= 0.0:
            self.set_pose(target, distance)
        else:
            self._transition = _Transition(self.pose, target, distance, duration)

    def set_pivot(self, point: np.ndarray, duration: float = TRANSITION_SECONDS) -> None:
        """Orbit `point` from now on: the eye stays, the view turns smoothly to face it, level."""
        self._settle()
        eye = self.eye
        offset = np.asarray(point, np.float64) - eye
        distance = float(np.linalg.norm(offset))
        if distance < 1e-9 * self.radius:
            return
        target = Pose(eye, _look_rotation(offset, self.up), self.fov_y_degrees)
        if duration <= 0.0:
            self.set_pose(target, distance)
        else:
            self._transition = _Transition(self.pose, target, distance, duration)

    def frame(self, duration: float = TRANSITION_SECONDS) -> None:
        """Move to a view of the whole scene bounds from above and in front."""
        from viewer.framing import frame_bounds

        view = frame_bounds(*self.bounds, self.up, fov_y_degrees=self.fov_y_degrees)
        self.go_to(view, duration)

    def reset(self, duration: float = TRANSITION_SECONDS) -> None:
        """Move back to the home view (or a framing when there is none), roll cleared."""
        if self.home is None:
            self.frame(duration)
        else:
            self.go_to(self.home, duration)

    def set_up_axis(self, label: str) -> None:
        """Make `label` (a key of UP_AXES) the world up; the view keeps its eye and pivot, level."""
        axis_vector(label)
        self._settle()
        eye = self.eye
        self.up_axis = label
        forward = self.pivot - eye
        pose = Pose(eye, _look_rotation(forward, self.up), self.fov_y_degrees)
        self.set_pose(pose, self.distance)

    def set_mode(self, mode: str) -> None:
        """Switch between "orbit" and "fly".

        Raises:
            ValueError: for another mode.
        """
        if mode not in NAVIGATION_MODES:
            raise ValueError(f"unknown camera mode {mode!r}; use {' or '.join(NAVIGATION_MODES)}")
        self.mode = mode

    def set_fov(self, degrees: float) -> None:
        """Set the vertical field of view, clamped to FOV_RANGE."""
        self._settle()
        self.fov_y_degrees = float(np.clip(degrees, *FOV_RANGE))

    # -- input -------------------------------------------------------------------------------

    def drag(self, button: str, dx: float, dy: float, viewport_height: float) -> None:
        """A mouse drag of (dx, dy) pixels (y down) with `button` ("left", "right", "middle").

        Args:
            button: "left" orbits (looks around in fly mode), "right" or "middle" pans; others
                do nothing.
            dx: horizontal movement in pixels, positive rightwards.
            dy: vertical movement in pixels, positive downwards.
            viewport_height: height of the view in the same pixels as dx, dy (sets pan speed).
        """
        self._settle()
        if button == "left" and self.mode == "orbit":
            self.orbit(dx * ORBIT_RADIANS_PER_PIXEL, dy * ORBIT_RADIANS_PER_PIXEL)
        elif button == "left":
            self.look(dx * LOOK_RADIANS_PER_PIXEL, dy * LOOK_RADIANS_PER_PIXEL)
        elif button in ("right", "middle"):
            self.pan(dx, dy, viewport_height)

    def scroll(self, steps: float) -> None:
        """Scroll wheel steps (positive: away from the user): zoom in (orbit) or speed up (fly)."""
        if self.mode == "orbit":
            self.zoom(steps)
        else:
            self.fly_speed = _scaled(
                self.fly_speed, SPEED_PER_STEP, steps, SPEED_RANGE, self.radius
            )

    def orbit(self, right: float, down: float) -> None:
        """Turn the eye about the pivot: the scene follows a drag `right`, `down` (radians)."""
        self._settle()
        self.yaw -= right
        self.pitch = float(np.clip(self.pitch - down, -MAX_PITCH, MAX_PITCH))

    def look(self, right: float, down: float) -> None:
        """Turn the view about the eye, towards the right and down (radians); the eye stays."""
        self._settle()
        eye = self.eye
        self.yaw -= right
        self.pitch = float(np.clip(self.pitch - down, -MAX_PITCH, MAX_PITCH))
        self.pivot = eye + self.forward * self.distance

    def pan(self, dx: float, dy: float, viewport_height: float) -> None:
        """Slide eye and pivot so that the pivot's plane follows a drag of (dx, dy) pixels."""
        self._settle()
        extent = 2.0 * self.distance * math.tan(math.radians(self.fov_y_degrees) / 2.0)
        per_pixel = extent / max(viewport_height, 1.0)
        rotation = self.rotation
        self.pivot = self.pivot - (dx * rotation[:, 0] + dy * rotation[:, 1]) * per_pixel

    def zoom(self, steps: float) -> None:
        """Move the eye towards the pivot (positive steps) or away from it.

        Each step changes the distance by a factor, so zooming slows near the pivot; it stops at
        twice the near plane, so the pivot's surface is never culled.
        """
        self._settle()
        closest = max(DISTANCE_RANGE[0], 2.0 * self.near_plane / self.radius)
        bounds = (min(closest, DISTANCE_RANGE[1]), DISTANCE_RANGE[1])
        self.distance = _scaled(self.distance, ZOOM_PER_STEP, steps, bounds, self.radius)

    def update(self, dt: float, held: Collection[str]) -> bool:
        """Advance time by `dt` seconds with the actions in `held` (MOVES, ROLLS, FAST) down.

        Returns:
            True when the view changed.
        """
        changed = False
        if self._transition is not None:
            transition = dataclasses.replace(
                self._transition, elapsed=self._transition.elapsed + dt
            )
            self._transition = transition
            if transition.done:
                self.set_pose(transition.end, transition.end_distance)
            changed = True
        step = self._movement(held) * dt * self.fly_speed * (FAST_FACTOR if FAST in held else 1.0)
        roll = sum(sign for action, sign in ROLLS.items() if action in held)
        if step.any() or roll:
            self._settle()
            self.pivot = self.pivot + step
            self.roll += roll * ROLL_RADIANS_PER_SECOND * dt
            changed = True
        return changed

    def _movement(self, held: Collection[str]) -> np.ndarray:
        """[3] unit direction of the held movement actions (zero when none or they cancel)."""
        rotation = self.rotation
        directions = {
            "forward": rotation[:, 2],
            "back": -rotation[:, 2],
            "right": rotation[:, 0],
            "left": -rotation[:, 0],
            "up": self.up,
            "down": -self.up,
        }
        total = sum((directions[m] for m in MOVES if m in held), np.zeros(3))
        norm = np.linalg.norm(total)
        return total / norm if norm > 1e-9 else np.zeros(3)

    def _settle(self) -> None:
        """Stop a running transition where it is, so input continues from the view on screen."""
        if self._transition is not None:
            transition = self._transition
            self.set_pose(transition.pose(), transition.end_distance)


def _scaled(
    value: float, factor: float, steps: float, bounds: tuple[float, float], unit: float
) -> float:
    """Value * factor**steps, kept within bounds * unit (computed in logs: never overflows)."""
    lo, hi = (math.log(b * unit) for b in bounds)
    return math.exp(min(max(math.log(value) + steps * math.log(factor), lo), hi))


def _look_rotation(forward: np.ndarray, up: np.ndarray) -> np.ndarray:
    """[3, 3] camera-to-world rotation looking along `forward` with `up` up (no roll)."""
    return Pose.of(Camera.look_at(np.zeros(3), forward, up)).rotation
