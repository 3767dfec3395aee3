"""The float accumulation image both raster backends write: premultiplied C, A = 1 - T."""

from __future__ import annotations

import moderngl
import numpy as np


def release_framebuffer(
    ctx: moderngl.Context, *objects: moderngl.Framebuffer | moderngl.Texture | None
) -> None:
    """Free a framebuffer (and its attachments) without leaving moderngl pointing at it.

    moderngl re-binds the framebuffer it bound last whenever it makes a new one; were that one
    freed, the re-bind would be a GL_INVALID_OPERATION. So framebuffer 0 is bound first.
    """
    ctx.detect_framebuffer(0).use()
    for obj in objects:
        if obj is not None:
            obj.release()


class AccumTarget:
    """An RGBA texture (float by default) with its framebuffer, resized on demand.

    Attributes:
        host: [H, W, 4] float32, rows bottom up: the image as a raster on the host (the cpu
            backend) composited it; it is the target's image while `on_host` is set, until
            `upload` (or a resolve on the host, viewer/render/host_resolve.py) takes it.
        on_host: whether `host`, not the texture, holds the image drawn last.
    """

    def __init__(self, ctx: moderngl.Context, dtype: str = "f4") -> None:
        self.ctx = ctx
        self.dtype = dtype
        self.size = (1, 1)
        self.texture, self.framebuffer = self._allocate(1, 1)
        self.host: np.ndarray | None = None
        self.on_host = False

    def _allocate(self, width: int, height: int) -> tuple[moderngl.Texture, moderngl.Framebuffer]:
        texture = self.ctx.texture((width, height), 4, dtype=self.dtype)
        texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        return texture, self.ctx.framebuffer(color_attachments=[texture])

    def ensure_size(self, width: int, height: int) -> None:
        """(Re)allocate for a width x height image (smaller sizes free the memory of larger)."""
        if self.size == (width, height):
            return
        self.release()
        self.texture, self.framebuffer = self._allocate(width, height)
        self.size = (width, height)

    def host_image(self) -> np.ndarray:
        """`host`, made for the target's size if it is not (its content is undefined then)."""
        width, height = self.size
        if self.host is None or self.host.shape != (height, width, 4):
            self.host = np.empty((height, width, 4), np.float32)
        return self.host

    def upload(self) -> None:
        """Write the host image into the texture (when `on_host`), which then holds it."""
        if self.on_host:
            assert self.host is not None
            self.texture.write(self.host)
            self.on_host = False

    def read_rgb(self) -> np.ndarray:
        """[H, W, 3] float32 of a float target, row 0 at the top (waits for the GPU)."""
        width, height = self.size
        image = np.frombuffer(self.texture.read(), dtype=np.float32).reshape(height, width, 4)
        return np.ascontiguousarray(image[::-1, :, :3])

    @property
    def nbytes(self) -> int:
        """GPU memory held."""
        return self.size[0] * self.size[1] * 4 * int(self.dtype[1])

    def release(self) -> None:
        """Free the GPU memory."""
        release_framebuffer(self.ctx, self.framebuffer, self.texture)
        self.size = (0, 0)
        self.host, self.on_host = None, False
