"""What rendering asks of the GL device and of the host memory, checked before any work.

Every command that renders through the GPU pipeline (render, bench, prune, make-dataset) opens
the device with `check_device` before it reads its scene, and reads the scene under the
`render_use` of that device (viewer.formats.limits.planned_use), so that a scene or an image the
device cannot take fails with one line while only headers have been read:
- the image: GL_MAX_TEXTURE_SIZE, GL_MAX_VIEWPORT_DIMS and GL_MAX_FRAMEBUFFER_WIDTH/HEIGHT bound
  it (DeviceInfo.check_image_size), and a device may still refuse a float target within them
  (llvmpipe refuses a texture above about 1.5 GiB: 16384x16384 RGBA float is 4 GiB), so one is
  allocated on trial; the images' host memory (the read-back copies, and on a software device
  the targets themselves) must fit in the memory available;
- the scene: a frame through the GL passes draws at most GL_MAX_SHADER_STORAGE_BLOCK_SIZE / 48
  splats (the splat records are one storage buffer: a frame seeing more would lose the rest),
  and the scene's GL buffers, which a software device keeps in host memory, and the upload's
  copies must fit with the scene itself. Frames that the cpu backend draws from rows kept on
  the host (`draws_on_host`) have no such bound, only the host memory of those rows and splats.
The byte counts were measured on llvmpipe (peak resident memory of `splatscope render`, design
log "Checked before any work"); a GPU's own memory is not known to GL and is not checked.
"""

from __future__ import annotations

import moderngl

from viewer.errors import SceneError
from viewer.formats import limits
from viewer.formats.limits import SceneUse, gigabytes
from viewer.render.context import DeviceInfo, ImageSizeError, create_headless_context
from viewer.render.layout import SPLAT_DTYPE
from viewer.render.raster import choose_backend, own_raster
from viewer.setting_specs import SettingsSet
from viewer.settings import FoveationSettings, RasterSettings, RenderSettings

TARGET_BYTES_PER_PIXEL = 16  # an RGBA float32 render target
# Host memory per pixel of an image read back: the texture's bytes, the RGB copy, the PNG's or
# the .npy's conversions (measured: 59-68 bytes a pixel with the two targets of a software GL).
READBACK_BYTES_PER_PIXEL = 40
RENDER_TARGETS = 2  # what one image needs: the accumulation target and the image read back
# Host memory per Gaussian of an upload besides its GL buffers: the padded copies of the means
# and scales, the robust bounds' sort.
UPLOAD_BYTES_PER_POINT = 48
# Per splat a frame can hold, on a software device: the splat records, keys and ids (64 bytes)
# and the CPU sort's copies. Measured on llvmpipe (quads, CPU sort): 236-265 bytes a Gaussian
# beyond the scene and its GL buffers.
FRAME_BYTES_PER_SPLAT = 224
# Per Gaussian of a frame the cpu backend draws on the host, beyond the scene and its GL
# buffers: the rows' host copy (the GL buffers' bytes again, `gpu_scene_bytes`) and this:
# the splat records, their order and sort keys, the tile pairs.
HOST_FRAME_BYTES_PER_SPLAT = 160
# A renderer's fixed part: its programs (llvmpipe JIT-compiles each), fixed buffers and the
# driver's threads. Measured: 56 MB of address space from the device check to a first frame.
RENDERER_BYTES = 128 * 2**20


def frame_capacity(device: DeviceInfo) -> int:
    """Splats one frame can draw on `device`: its largest storage buffer of splat records."""
    return max(1, device.max_ssbo_bytes // SPLAT_DTYPE.itemsize)


def draws_on_host(settings: SettingsSet, device: DeviceInfo) -> bool:
    """Whether every frame of `settings` on `device` is the cpu backend's, made on the host.

    Such frames (host preprocess: colour, depth, overdraw and heat maps, LOD, the bands
    mapping's foveation, and the views that pruning's and foveation's scores are measured on)
    keep their splats in host memory, not in a storage buffer, so they have no per-frame splat
    limit. A frame of another backend, of a mode with its own raster, with the validation
    switch or the pooling mapping goes through the GL passes.
    """
    raster = settings.of(RasterSettings)
    backend = choose_backend(raster.backend, device)
    if backend != "cpu" or raster.validate:
        return False
    fov = settings.of(FoveationSettings)
    pooled = fov.enabled and fov.mapping != "bands"
    return not own_raster(settings.of(RenderSettings).mode, backend) and not pooled


def gpu_scene_bytes(count: int, sh_coeffs: int) -> int:
    """Bytes of a GpuScene's buffers for `count` Gaussians (viewer.render.gpu_scene.BUFFERS)."""
    # means, scales, rotations: vec4 each; opacities, flags, gpu_flags, heat: 4 bytes; SH
    return count * (3 * 16 + 4 * 4 + 12 * sh_coeffs)


def image_bytes(device: DeviceInfo, width: int, height: int, targets: int = RENDER_TARGETS) -> int:
    """Host memory that `targets` float targets of width x height and their read-back need."""
    per_pixel = READBACK_BYTES_PER_PIXEL
    if device.is_software:  # the targets are host memory too
        per_pixel += targets * TARGET_BYTES_PER_PIXEL
    return width * height * per_pixel


def render_use(
    device: DeviceInfo,
    width: int = 0,
    height: int = 0,
    *,
    renderers: int = 1,
    targets: int = RENDER_TARGETS,
    host: bool = False,
) -> SceneUse:
    """What rendering a scene on `device` needs beyond the scene (for `planned_use`).

    Args:
        device: the GL device's facts (from `check_device`).
        width: width of the images rendered (0: not known yet).
        height: their height.
        renderers: renderers drawing the scene, each with its frame buffers (a bench's
            configurations and its reference).
        targets: float targets of the image's size held at once.
        host: every frame is drawn on the host (`draws_on_host`): no per-frame splat limit,
            and the host copies it keeps are counted.
    """
    capacity = frame_capacity(device)

    def host_bytes(count: int, sh_coeffs: int) -> int:
        total = count * UPLOAD_BYTES_PER_POINT + image_bytes(device, width, height, targets)
        total += renderers * RENDERER_BYTES
        if device.is_software:  # GL buffers are host memory
            splats = min(count, capacity) * renderers
            total += gpu_scene_bytes(count, sh_coeffs) + splats * FRAME_BYTES_PER_SPLAT
        if host:
            per_row = gpu_scene_bytes(1, sh_coeffs) + HOST_FRAME_BYTES_PER_SPLAT
            total += count * per_row * renderers
        return total

    where = f"on {device.renderer}" if device.is_software else "(host memory)"
    return SceneUse(
        what=f"to render {where}",
        host_bytes=host_bytes,
        max_points=None if host else capacity,
        limit=(
            f"this GL device draws in one frame ({capacity:,}: GL_MAX_SHADER_STORAGE_BLOCK_SIZE "
            f"is {device.max_ssbo_bytes / 2**20:,.0f} MiB on {device.renderer}, "
            f"{SPLAT_DTYPE.itemsize} bytes a splat; the cpu backend draws more in the colour, "
            "depth and stored-value heat map modes, without scores measured on views)"
        ),
    )


def check_image(
    ctx: moderngl.Context,
    device: DeviceInfo,
    width: int,
    height: int,
    targets: int = RENDER_TARGETS,
) -> None:
    """Raise ImageSizeError unless `device` can render and read back a width x height image.

    The device's size limits, the host memory of the images, and a float target of that size
    allocated on trial (and freed).
    """
    device.check_image_size(width, height)
    needed = image_bytes(device, width, height, targets)
    available = limits.available_memory()
    if available is not None and needed > available:
        raise ImageSizeError(
            f"{width}x{height} pixels needs {gigabytes(needed)} of memory to render and read "
            f"back, more than the {gigabytes(available)} available"
        )
    texture = framebuffer = None
    try:
        texture = ctx.texture((width, height), 4, dtype="f4")
        framebuffer = ctx.framebuffer(color_attachments=[texture])
    except Exception as exc:  # moderngl raises plain Error for a refused allocation
        size = width * height * TARGET_BYTES_PER_PIXEL
        raise ImageSizeError(
            f"{width}x{height} pixels is larger than this GL device renders: it refuses a "
            f"{size / 2**30:.1f} GiB float target ({exc}) on {device.renderer}"
        ) from None
    finally:
        from viewer.render.accum_target import release_framebuffer

        release_framebuffer(ctx, framebuffer, texture)


def check_device(
    width: int | None, height: int | None, label: str, targets: int = RENDER_TARGETS
) -> DeviceInfo:
    """The headless GL device's facts, with a width x height image checked (`check_image`).

    The one check of the device before any work, for every command that renders; without a
    size (not known before the scene is read) only the context is made.

    Raises:
        GLUnavailableError: when no OpenGL 4.3 context can be made.
        SceneError: naming `label`, for an image the device cannot render.
    """
    ctx = create_headless_context()
    try:
        device = DeviceInfo.of(ctx)
        if width is not None and height is not None:
            check_image(ctx, device, width, height, targets)
        return device
    except ImageSizeError as exc:
        raise SceneError(label, str(exc)) from None
    finally:
        ctx.release()
