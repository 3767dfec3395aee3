"""OpenGL context creation and device facts (headless EGL, or the current window's context)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import moderngl

REQUIRED_GL = 430


class GLUnavailableError(RuntimeError):
    """No OpenGL 4.3 context could be made (no driver, no EGL, too old GL)."""


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL 4.3+ core context through EGL, needing no display and no GPU.

    Uses `EGL_PLATFORM=surfaceless` unless the caller set another platform (Mesa starts fastest so).
    Never mix this with a GLX window in the same process.
    """
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    try:
        return moderngl.create_standalone_context(backend="egl", require=REQUIRED_GL)
    except Exception as exc:  # moderngl raises plain Exception for every EGL failure
        raise GLUnavailableError(
            f"cannot create an OpenGL {REQUIRED_GL // 100}.{REQUIRED_GL % 100 // 10} context "
            f"through EGL ({exc}); install Mesa (libegl1 libegl-mesa0 libgl1-mesa-dri) or a driver"
        ) from None


@dataclass(frozen=True)
class DeviceInfo:
    """What the pipeline needs to know about the GL device."""

    renderer: str
    vendor: str
    version: str
    max_ssbo_bytes: int
    max_workgroups_x: int

    @property
    def is_software(self) -> bool:
        """True on CPU rasterizers (llvmpipe, softpipe, swrast), where the CPU sort wins."""
        name = self.renderer.lower()
        return any(word in name for word in ("llvmpipe", "softpipe", "swrast", "software"))

    @property
    def is_datacenter_gpu(self) -> bool:
        """True on compute-first GPUs (H100/H200/A100...), whose fragment shading is slow."""
        name = self.renderer.upper()
        return any(tag in name for tag in ("H100", "H200", "H800", "A100", "A800", "GH200", "B200"))

    @classmethod
    def of(cls, ctx: moderngl.Context) -> DeviceInfo:
        """Read the device facts off a context."""
        info = ctx.info
        return cls(
            renderer=str(info["GL_RENDERER"]),
            vendor=str(info["GL_VENDOR"]),
            version=str(info["GL_VERSION"]),
            max_ssbo_bytes=int(info["GL_MAX_SHADER_STORAGE_BLOCK_SIZE"]),
            max_workgroups_x=int(info["GL_MAX_COMPUTE_WORK_GROUP_COUNT"][0]),
        )
