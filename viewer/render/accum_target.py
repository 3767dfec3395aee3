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
    """An RGBA texture (float by default) with its framebuffer, resized on demand."""

    def __init__(self, ctx: moderngl.Context, dtype: str = "f4") -> None:
        self.ctx = ctx
        self.dtype = dtype
        self.size = (1, 1)
        self.texture, self.framebuffer = self._allocate(1, 1)

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
