"""The resolve pass on the host, for an image composited there (the cpu backend).

On llvmpipe the GL resolve (resolve.frag) of a 1280x720 image costs 12-21 ms, a full-screen pass
through the shader JIT, while the image it reads was made on the host anyway: so an image kept
on the host (`AccumTarget.on_host`) is resolved there, C + (1 - A) background with alpha 1,
stretched bilinearly over the output at a render scale below 1 (22 ms through the GL pass at
1280x720), and written straight into the output's texture. Where the output is not a plain RGBA
texture (the window's own framebuffer) or the image is an inset, the image is uploaded and the
GL pass resolves it as before.
"""

from __future__ import annotations

import moderngl
import numpy as np

from viewer.render.accum_target import AccumTarget

FORMATS = {"f1": np.uint8, "f4": np.float32}  # output textures written directly


def output_texture(output: moderngl.Framebuffer) -> moderngl.Texture | None:
    """The output's only colour texture when the host can write it (RGBA, f1/f4)."""
    attachments = output.color_attachments
    if len(attachments) != 1 or not isinstance(attachments[0], moderngl.Texture):
        return None
    texture = attachments[0]
    if texture.components != 4 or texture.samples:
        return None
    return texture if texture.dtype in FORMATS else None


def resolve_on_host(
    accum: AccumTarget, output: moderngl.Framebuffer, background: tuple[float, float, float]
) -> bool:
    """Resolve `accum`'s host image into `output` if it can be written directly (True)."""
    from viewer.render.cpu_kernels import resolve_rows  # numba's, as the cpu backend's

    assert accum.host is not None
    texture = output_texture(output)
    if texture is None:
        return False
    width, height = texture.size
    out = np.empty((height, width, 4), FORMATS[texture.dtype])
    resolve_rows(accum.host, np.asarray(background, np.float32), out, texture.dtype == "f1")
    texture.write(out)
    return True
