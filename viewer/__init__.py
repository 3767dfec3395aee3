"""splatscope: a real-time viewer, renderer and benchmark for 3D Gaussian Splatting scenes."""

from viewer.camera import Camera
from viewer.errors import SceneError
from viewer.scene import GaussianScene

__version__ = "0.1.0"
__all__ = ["Camera", "GaussianScene", "SceneError", "__version__"]
