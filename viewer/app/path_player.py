"""The window's camera path: keyframes recorded from the view, played back, saved and loaded."""

from __future__ import annotations

from viewer.camera import Camera
from viewer.camera_path import CameraPath
from viewer.pose import Pose


class PathPlayer:
    """A camera path and where its playback is.

    Attributes:
        path: the keyframes recorded or loaded.
        time: seconds into the playback, or None while not playing.
    """

    def __init__(self) -> None:
        self.path = CameraPath()
        self.time: float | None = None

    @property
    def playing(self) -> bool:
        """Whether the path is being played."""
        return self.time is not None

    def camera(self, width: int, height: int) -> Camera | None:
        """The played camera for an image of that size, or None while not playing."""
        return None if self.time is None else self.path.camera(self.time, width, height)

    def advance(self, dt: float) -> Pose | None:
        """Move playback on by `dt`; at its end it stops and returns the last pose."""
        if self.time is None:
            return None
        self.time += dt
        if self.time < self.path.duration:
            return None
        self.time = None
        return self.path.pose(self.path.duration)

    def add(self, camera: Camera, step: float) -> str:
        """Append `camera` as a keyframe `step` seconds after the last; what to tell the user."""
        self.path = self.path.appended(camera, step)
        return f"keyframe {len(self.path.keyframes)} at {self.path.duration:.1f} s"

    def play(self) -> str:
        """Start playback from the beginning; what to tell the user."""
        if len(self.path.keyframes) < 2:
            return "add at least two keyframes (K) to play a path"
        self.time = 0.0
        return ""

    def clear(self) -> None:
        """Forget every keyframe (and stop)."""
        self.path, self.time = CameraPath(), None

    def save(self, file: str) -> str:
        """Write the path file; what to tell the user.

        Raises:
            OSError: when it cannot be written.
        """
        self.path.save(file)
        return f"saved {len(self.path.keyframes)} keyframes to {file}"

    def load(self, file: str) -> str:
        """Read a path file (a document the window saves back: not counted among the inputs).

        Raises:
            SceneError: when the file is missing or not a camera path.
        """
        self.path = CameraPath.load(file, remember=False)
        self.time = None
        return f"loaded {len(self.path.keyframes)} keyframes from {file}"
