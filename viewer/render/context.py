"""OpenGL context creation and device facts (headless EGL, or the current window's context)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import moderngl

REQUIRED_GL = 430
# Renderer-string words of GL devices that rasterize on the CPU (Mesa's llvmpipe, softpipe and
# swrast, lavapipe under zink, Google's SwiftShader (under ANGLE), Windows' WARP "Microsoft Basic
# Render Driver"): the one list.
SOFTWARE_RENDERERS = (
    "llvmpipe", "softpipe", "swrast", "lavapipe", "swiftshader", "software", "microsoft basic",
)  # fmt: skip
# Renderer-string words of GL forwarded to another driver (virgl: a VM's host; d3d12: WSL's
# Direct3D): the GL context may sit on a GPU, but not one CUDA can share buffers with.
FORWARDED_RENDERERS = ("virgl", "d3d12")


class GLUnavailableError(RuntimeError):
    """No OpenGL 4.3 context could be made (no driver, no EGL, too old GL)."""


def create_headless_context() -> moderngl.Context:
    """A standalone OpenGL 4.3+ core context through EGL, needing no display and no GPU.

    Uses `EGL_PLATFORM=surfaceless` unless the caller set another platform (Mesa starts fastest so).
    Never mix this with a GLX window in the same process.
    """
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    try:
        settings: dict[str, Any] = {"backend": "egl", "require": REQUIRED_GL}
        return moderngl.create_standalone_context(**settings)
    except Exception as exc:  # moderngl raises plain Exception for every EGL failure
        raise GLUnavailableError(
            f"cannot create an OpenGL {REQUIRED_GL // 100}.{REQUIRED_GL % 100 // 10} context "
            f"through EGL ({exc}); install Mesa (libegl1 libegl-mesa0 libgl1-mesa-dri) or a driver"
        ) from None


class ImageSizeError(ValueError):
    """An image larger than the GL device can render into (see DeviceInfo.check_image_size)."""


@dataclass(frozen=True)
class DeviceInfo:
    """What the pipeline needs to know about the GL device.

    Attributes:
        max_texture_size: GL_MAX_TEXTURE_SIZE, the widest and tallest texture (0: unknown).
        max_viewport: GL_MAX_VIEWPORT_DIMS, the largest viewport ((0, 0): unknown).
        max_framebuffer: GL_MAX_FRAMEBUFFER_WIDTH/HEIGHT, the largest framebuffer ((0, 0):
            unknown).
    """

    renderer: str
    vendor: str
    version: str
    max_ssbo_bytes: int
    max_workgroups_x: int
    max_texture_size: int = 0
    max_viewport: tuple[int, int] = (0, 0)
    max_framebuffer: tuple[int, int] = (0, 0)

    @property
    def max_image_size(self) -> tuple[int, int] | None:
        """Largest (width, height) an image rendered here may have; None when unknown."""
        if not self.max_texture_size or not all(self.max_viewport):
            return None
        limits = [(self.max_texture_size,) * 2, self.max_viewport]
        if all(self.max_framebuffer):
            limits.append(self.max_framebuffer)
        return min(w for w, _ in limits), min(h for _, h in limits)

    def check_image_size(self, width: int, height: int) -> None:
        """Raise ImageSizeError when a `width` x `height` image exceeds the device's limits.

        The renderer's targets are textures attached to framebuffers and drawn through a
        viewport, so GL_MAX_TEXTURE_SIZE, GL_MAX_VIEWPORT_DIMS and GL_MAX_FRAMEBUFFER_WIDTH/HEIGHT
        bound them; checking first turns a failed allocation (a traceback, or a crash in the
        driver) into one message. The device may refuse a target within them still: see
        viewer.render.budget.check_image.
        """
        limit = self.max_image_size
        if limit is not None and (width > limit[0] or height > limit[1]):
            raise ImageSizeError(
                f"{width}x{height} pixels is larger than this GL device renders "
                f"(at most {limit[0]}x{limit[1]}: GL_MAX_TEXTURE_SIZE {self.max_texture_size}, "
                f"GL_MAX_VIEWPORT_DIMS {self.max_viewport[0]}x{self.max_viewport[1]} on "
                f"{self.renderer})"
            )

    @property
    def is_software(self) -> bool:
        """True on CPU rasterizers (SOFTWARE_RENDERERS), where the CPU sort and raster win.

        The sort, the raster backend, the clock, the LOD cut's counting and CUDA-GL interop all
        ask this.
        """
        name = self.renderer.lower()
        return any(word in name for word in SOFTWARE_RENDERERS)

    @property
    def is_forwarded(self) -> bool:
        """True where GL is forwarded to another driver (FORWARDED_RENDERERS: virgl, D3D12)."""
        name = self.renderer.lower()
        return any(word in name for word in FORWARDED_RENDERERS)

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
            max_texture_size=int(info["GL_MAX_TEXTURE_SIZE"]),
            max_viewport=(
                int(info["GL_MAX_VIEWPORT_DIMS"][0]),
                int(info["GL_MAX_VIEWPORT_DIMS"][1]),
            ),
            max_framebuffer=(
                int(info.get("GL_MAX_FRAMEBUFFER_WIDTH", 0)),
                int(info.get("GL_MAX_FRAMEBUFFER_HEIGHT", 0)),
            ),
        )
