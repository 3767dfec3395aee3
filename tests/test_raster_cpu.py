"""The cpu raster backend: the tiles backend's images from the host's cores, and `auto`."""

from __future__ import annotations

import os

import numba
import numpy as np
import pytest

from tests.conftest import random_scene, scene_path
from tests.test_pipeline import donut_cameras, psnr
from viewer.camera import Camera
from viewer.reference import render_scene_reference
from viewer.render.context import DeviceInfo
from viewer.render.frame_inputs import FrameInputs
from viewer.render.layout import COUNTER_PAIRS
from viewer.render.raster import backend_reason, choose_backend
from viewer.render.renderer import SplatRenderer
from viewer.scene import GaussianScene
from viewer.settings import RasterSettings, RenderSettings

MIN_PSNR_TILES = 50.0


@pytest.fixture(scope="module")
def renderers(gl_ctx):
    made = {
        name: SplatRenderer(gl_ctx, RasterSettings(backend=name, sort="cpu", validate=True))
        for name in ("cpu", "tiles")
    }
    yield made
    for renderer in made.values():
        renderer.release()


def both(renderers, gpu_scene, camera, settings=RenderSettings()):
    """(cpu image, tiles image) of one view."""
    return tuple(
        renderers[name].render_image(gpu_scene, FrameInputs(camera), settings)
        for name in ("cpu", "tiles")
    )


def test_donut_as_the_tiles_backend_at_odd_sizes_and_inside(renderers, upload):
    from viewer.formats import load_scene

    gpu_scene = upload(load_scene(scene_path("donut.ply")))
    settings = RenderSettings(near_plane=0.01)
    for width, height in ((100, 70), (37, 23)):  # not multiples of 16
        for camera in donut_cameras(width, height):  # the last from inside the ring
            cpu, tiles = both(renderers, gpu_scene, camera, settings)
            assert cpu.max() > 0.2
            assert psnr(cpu, tiles) >= MIN_PSNR_TILES


def test_builtin_scene_and_modes_as_the_tiles_backend(renderers, upload):
    from viewer.builtin_scene import default_camera, load_builtin_scene, preview_cameras

    gpu_scene = upload(load_builtin_scene())
    cameras = (default_camera(96, 54), preview_cameras(96, 54)["low"])
    for camera in cameras:
        for mode in ("color", "depth"):
            settings = RenderSettings(mode=mode, background=(0.2, 0.4, 0.9))
            cpu, tiles = both(renderers, gpu_scene, camera, settings)
            assert psnr(cpu, tiles) >= MIN_PSNR_TILES


def wall_and_behind() -> GaussianScene:
    """A red wall of flat opaque Gaussians at y = 0 and green ones behind it (y = 1)."""
    xs, zs = np.meshgrid(np.linspace(-1, 1, 21), np.linspace(-1, 1, 21))
    wall = np.stack([xs.ravel(), np.zeros(xs.size), zs.ravel()], axis=1)
    rng = np.random.default_rng(3)
    behind = rng.uniform(-0.5, 0.5, size=(200, 3)) + np.array([0.0, 1.0, 0.0])
    means = np.concatenate([wall, behind])
    scales = np.concatenate([np.tile([0.08, 0.001, 0.08], (len(wall), 1)), np.full((200, 3), 0.1)])
    rotations = np.tile([1.0, 0, 0, 0], (len(means), 1))
    opacities = np.concatenate([np.full(len(wall), 0.999), np.full(200, 0.9)])
    rgb = np.concatenate([np.tile([1.0, 0, 0], (len(wall), 1)), np.tile([0, 1.0, 0], (200, 1))])
    sh = ((rgb - 0.5) / 0.28209479177387814)[:, None, :]
    return GaussianScene.from_arrays(means, scales, rotations, opacities, sh)


def test_an_opaque_wall_hides_what_is_behind_as_in_the_reference(renderers, upload):
    scene = wall_and_behind()
    camera = Camera.look_at((0, -1.5, 0), (0, 0, 0), (0, 0, 1), 50, 40, 40.0)
    cpu = renderers["cpu"].render_image(upload(scene), FrameInputs(camera), RenderSettings())
    reference = render_scene_reference(scene, camera, RenderSettings())
    assert psnr(cpu, reference) >= MIN_PSNR_TILES
    assert np.abs(cpu - reference).max() < 1e-3
    # alpha stops at 0.99: one layer of the wall lets 1 % through, and then T < 1e-4 stops
    assert cpu[..., 1].max() < 0.01 and cpu[..., 0].min() > 0.9


def test_same_image_with_one_thread_and_with_all(renderers, upload):
    rng = np.random.default_rng(7)
    gpu_scene = upload(random_scene(rng, 3000, sh_degree=2))
    camera = Camera.look_at((0.1, -1.6, 0.3), (0, 0, 0), (0, 0, 1), 90, 50)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = renderers["cpu"].render_image(gpu_scene, FrameInputs(camera), RenderSettings())
    finally:
        numba.set_num_threads(threads)
    every = renderers["cpu"].render_image(gpu_scene, FrameInputs(camera), RenderSettings())
    assert one.max() > 0.2
    assert np.array_equal(one, every)


def test_splats_larger_than_the_screen(renderers, upload):
    rng = np.random.default_rng(11)
    scene = random_scene(rng, 40, sh_degree=1, spread=3.0)
    camera = Camera.look_at((0.05, 0.0, 0.0), (1.0, 0.3, 0.1), (0, 0, 1), 33, 47, 100.0)
    settings = RenderSettings(near_plane=0.01)
    cpu, tiles = both(renderers, upload(scene), camera, settings)
    assert psnr(cpu, tiles) >= MIN_PSNR_TILES
    assert psnr(cpu, render_scene_reference(scene, camera, settings)) >= 40.0


def test_nothing_visible_is_the_background_and_no_pairs(renderers, upload):
    rng = np.random.default_rng(5)
    gpu_scene = upload(random_scene(rng, 100, sh_degree=0, spread=0.2))
    look_away = Camera.look_at((0, -2, 0), (0, -4, 0), (0, 0, 1), 40, 24)
    settings = RenderSettings(background=(0.25, 0.5, 0.75))
    renderer = renderers["cpu"]
    image = renderer.render_image(gpu_scene, FrameInputs(look_away), settings)
    assert np.allclose(image, settings.background, atol=1e-6)
    assert renderer.frame.read_counters()[COUNTER_PAIRS] == 0


def test_frame_drawn_in_parts_is_the_whole_frame(renderers, upload, gl_ctx):
    rng = np.random.default_rng(9)
    gpu_scene = upload(random_scene(rng, 500, sh_degree=1))
    camera = Camera.look_at((0, -2.0, 0.3), (0, 0, 0), (0, 0, 1), 70, 45)
    renderer = renderers["cpu"]
    whole = renderer.render_image(gpu_scene, FrameInputs(camera), RenderSettings())
    frame = renderer.start(
        gpu_scene, FrameInputs(camera), RenderSettings(), renderer.image.framebuffer
    )
    while not frame.step(1):
        pass
    assert np.array_equal(renderer.image.read_rgb(), whole)


def device(renderer: str) -> DeviceInfo:
    return DeviceInfo(renderer, "vendor", "4.5", 1 << 27, 65535)


@pytest.mark.parametrize(
    ("renderer", "chosen"),
    [
        ("llvmpipe (LLVM 15.0.6, 256 bits)", "cpu"),
        ("softpipe", "cpu"),
        ("ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)", "cpu"),
        ("Microsoft Basic Render Driver", "cpu"),
        ("NVIDIA H100 80GB HBM3/PCIe/SSE2", "tiles"),
        ("NVIDIA GeForce RTX 4090/PCIe/SSE2", "quads"),
        ("AMD Radeon RX 7900 XTX (radeonsi, navi31)", "quads"),
    ],
)
def test_auto_picks_cpu_on_software_gl_only(renderer, chosen):
    assert choose_backend("auto", device(renderer)) == chosen
    assert choose_backend("cpu", device(renderer)) == "cpu"


def test_auto_is_cpu_on_this_software_context(gl_ctx):
    renderer = SplatRenderer(gl_ctx)
    try:
        assert renderer.device.is_software and renderer.backend == "cpu"
    finally:
        renderer.release()


def test_uniform_levels_are_the_reference_levels():
    from tests.test_foveation import bands, front_camera
    from viewer.render.fovea import Fovea, pixel_levels, uniform_levels, uniforms

    camera = front_camera(90, 50)
    for fovea, gaze in ((bands(8.0, 5.0, 2.0), (30.0, 20.0)), (Fovea(mapping="pooling"), None)):
        levels = uniform_levels(uniforms(camera, fovea, gaze), camera.width, camera.height)
        np.testing.assert_allclose(levels, pixel_levels(camera, fovea, gaze), atol=1e-5)


def test_foveated_subsets_weigh_each_pixel_as_the_tiles_backend(renderers, upload):
    from tests.test_foveation import SHARES, bands, front_camera, front_scene
    from viewer.features.foveation import subset_levels
    from viewer.render.fovea import Fovea

    rng = np.random.default_rng(5)
    scene = front_scene(rng, 2500)
    gpu_scene = upload(scene)
    gpu_scene.write_levels(subset_levels(rng.uniform(size=scene.count), SHARES))
    camera = front_camera(150, 90)
    full = renderers["cpu"].render_image(gpu_scene, FrameInputs(camera), RenderSettings())
    full_pairs = renderers["cpu"].frame.read_counters()[COUNTER_PAIRS]
    for fovea, gaze in ((bands(8.0, 5.0, 2.0), (60.0, 40.0)), (Fovea(mapping="pooling"), None)):
        inputs = FrameInputs(camera, gaze=gaze, fovea=fovea)
        cpu = renderers["cpu"].render_image(gpu_scene, inputs, RenderSettings())
        pairs = renderers["cpu"].frame.read_counters()[COUNTER_PAIRS]
        tiles = renderers["tiles"].render_image(gpu_scene, inputs, RenderSettings())
        assert psnr(cpu, tiles) >= MIN_PSNR_TILES
        assert psnr(cpu, full) < 40.0  # the periphery draws fewer Gaussians
        if fovea.mapping == "bands":  # nor binned where they weigh 0 (pooling blurs the levels)
            assert 0 < pairs < 0.5 * full_pairs


def test_the_reason_for_the_backend_is_said():
    assert backend_reason("auto", device("llvmpipe (LLVM 15.0.6, 256 bits)")) == (
        "auto: software GL, llvmpipe"
    )
    assert backend_reason("auto", device("NVIDIA H100 80GB HBM3")) == "auto: compute-first GPU"
    assert backend_reason("cpu", device("NVIDIA GeForce RTX 4090")) == "chosen"


def test_tens_of_millions_of_pairs(renderers, upload):
    """3000 splats covering the whole 1280x720 image: 3600 tiles each, 10.8M pairs."""
    rng = np.random.default_rng(13)
    count = 3000
    means = np.stack([rng.normal(0, 0.01, count), rng.uniform(0.5, 1.5, count),
                      rng.normal(0, 0.01, count)], axis=1)  # fmt: skip
    rgb = rng.uniform(size=(count, 3))
    scene = GaussianScene.from_arrays(
        means, np.full((count, 3), 2.0), np.tile([1.0, 0, 0, 0], (count, 1)),
        np.full(count, 0.3), ((rgb - 0.5) / 0.28209479177387814)[:, None, :],
    )  # fmt: skip
    camera = Camera.look_at((0, -0.5, 0), (0, 1, 0), (0, 0, 1), 1280, 720, 60.0)
    gpu_scene = upload(scene)
    cpu, tiles = both(renderers, gpu_scene, camera)
    assert renderers["cpu"].frame.read_counters()[COUNTER_PAIRS] == count * 80 * 45
    assert psnr(cpu, tiles) >= MIN_PSNR_TILES


def box_pairs(renderer: SplatRenderer, width: int, height: int) -> int:
    """The pairs of the frame just drawn had every splat been binned into all its box's tiles."""
    count = renderer.frame.visible_count()
    splats = renderer.frame.read_splats(count).view(np.float32).reshape(count, -1)
    cx, cy, ex, ey = splats[:, 0], splats[:, 1], splats[:, 2], splats[:, 3]
    lo_x = np.maximum(np.ceil(cx - ex - 0.5), 0) // 16
    hi_x = np.minimum(np.floor(cx + ex - 0.5), width - 1) // 16
    lo_y = np.maximum(np.ceil(cy - ey - 0.5), 0) // 16
    hi_y = np.minimum(np.floor(cy + ey - 0.5), height - 1) // 16
    return int((np.maximum(hi_x - lo_x + 1, 0) * np.maximum(hi_y - lo_y + 1, 0)).sum())


def test_thin_tilted_splats_skip_the_tiles_they_miss_not_a_pixel(renderers, upload):
    """Needles across the image: a splat is binned only where its ellipse reaches (fewer pairs
    than its box's tiles) and composited only on the rows it reaches, the image unchanged."""
    rng = np.random.default_rng(21)
    count = 400
    scales = np.stack([rng.uniform(0.2, 0.6, count), np.full(count, 0.004),
                       rng.uniform(0.002, 0.02, count)], axis=1)  # fmt: skip
    rgb = rng.uniform(size=(count, 3))
    scene = GaussianScene.from_arrays(
        rng.normal(0, 0.5, (count, 3)), scales, rng.normal(size=(count, 4)),
        rng.uniform(0.3, 1.0, count), ((rgb - 0.5) / 0.28209479177387814)[:, None, :],
    )  # fmt: skip
    camera = Camera.look_at((0.2, -2.5, 0.4), (0, 0, 0), (0, 0, 1), 160, 96)
    cpu, tiles = both(renderers, upload(scene), camera)
    pairs = int(renderers["cpu"].frame.read_counters()[COUNTER_PAIRS])
    assert 0 < pairs < 0.7 * box_pairs(renderers["cpu"], camera.width, camera.height)
    assert cpu.max() > 0.3
    assert np.abs(cpu - tiles).max() < 1e-4


def test_the_kernel_cache_follows_every_module_the_kernels_compile_in():
    """numba checks a cached kernel against its own file only, so the cache folder is named by
    a digest of every module whose code or constants the kernels take in."""
    import re
    from pathlib import Path

    from viewer.render import (
        cpu_kernels,  # noqa: F401  (configures numba)
        jit_setup,
    )

    assert jit_setup.jit_cache_dir().name == jit_setup.sources_digest()
    # set by conftest.py after numba was imported: taken all the same, not numba's default
    assert os.environ["NUMBA_CACHE_DIR"] == numba.config.CACHE_DIR
    render = Path(jit_setup.__file__).parent
    for name in ("cpu_kernels", "cpu_footprint", "cpu_tile_sort"):
        assert name in jit_setup.KERNEL_SOURCES
        text = (render / f"{name}.py").read_text()
        for used in re.findall(r"^from viewer\.render\.(\w+) import", text, re.M):
            assert used == "jit_setup" or used in jit_setup.KERNEL_SOURCES, (name, used)


@pytest.mark.parametrize("count", [250, 70_000, 20_000_000])  # one, two and three digits
def test_each_tile_is_sorted_into_depth_order(count):
    """Tiles below and above the insertion sort's size, empty ones; ranks of 1 to 3 bytes."""
    from viewer.render.cpu_tile_sort import SMALL, sort_tiles

    rng = np.random.default_rng(count)
    sizes = np.minimum([0, 1, 2, SMALL - 1, SMALL, SMALL + 1, 500, 0, 3000, 7], count)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    order = rng.permutation(count).astype(np.uint32)
    ranks = np.concatenate([rng.choice(count, size, replace=False) for size in sizes])
    pairs = ranks.astype(np.int32)
    sort_tiles(pairs, starts, order, 3)
    for t in range(sizes.size):
        expected = order[np.sort(ranks[starts[t] : starts[t + 1]])]
        np.testing.assert_array_equal(pairs[starts[t] : starts[t + 1]], expected)


def test_saturated_pixels_and_the_splats_blended_into_them():
    """Per tile, the pixels that stopped and how many splats each took, the stopping one in."""
    from viewer.render import cpu_kernels

    width, height, count = 40, 20, 12
    rng = np.random.default_rng(2)
    splats = np.zeros((count, cpu_kernels.SPLAT_FLOATS), np.float32)
    splats[:, :2] = rng.uniform([8, 4], [32, 16], (count, 2))  # centres
    splats[:, 2:4] = 60.0  # extents: the whole image
    splats[:, 4], splats[:, 6] = 0.004, 0.006  # wide, soft footprints
    splats[:, 7] = rng.uniform(0.6, 0.9, count)  # opacities
    order = np.arange(count, dtype=np.uint32)
    hidden = np.zeros(6, np.uint8)  # 3 x 2 tiles
    starts, pairs = cpu_kernels.bin_tiles(splats, order, width, height, 2, hidden)
    image = np.zeros((height, width, 4), np.float32)
    saturation = np.zeros((starts.size - 1, 2), np.int64)
    cpu_kernels.composite_rows(
        splats, pairs, starts, width, height, 0, 2, image, None, None, None, saturation
    )
    saturated, depths = 0, 0
    for y in range(height):
        for x in range(width):
            t = 1.0
            for blended, s in enumerate(splats, start=1):
                dx, dy = x + 0.5 - s[0], y + 0.5 - s[1]
                alpha = min(0.99, s[7] * np.exp(-0.5 * (s[4] * dx * dx + s[6] * dy * dy)))
                if t * (1 - alpha) < 1e-4:
                    saturated, depths = saturated + 1, depths + blended
                    break
                t *= 1 - alpha
    assert 0 < saturated < width * height  # some pixels stop, not all
    assert tuple(saturation.sum(axis=0)) == (saturated, depths)


def test_a_tile_s_floor_is_its_lowest_pixel_level():
    from viewer.render.raster_cpu import tile_bounds

    levels = np.full((20, 40), 3.0, np.float32)  # 3 x 2 tiles, the last column and row partial
    levels[2, 5], levels[17, 39], levels[19, 0] = 0.5, 1.25, 3.5
    floors, ceilings = tile_bounds(levels)
    np.testing.assert_array_equal(floors, [0.5, 3, 3, 3, 3, 1.25])
    np.testing.assert_array_equal(ceilings, [3, 3, 3, 3.5, 3, 3])


def test_the_host_level_map_is_the_reference_levels_and_tile_bounds():
    from tests.test_foveation import bands, front_camera
    from viewer.render.fovea import Fovea, uniform_levels, uniforms
    from viewer.render.raster_cpu import level_map, tile_bounds

    camera = front_camera(90, 50)  # 6 x 4 tiles, the last column and row partial
    cases = [
        (bands(8.0, 5.0, 2.0), (30.0, 20.0), (0, 0)),
        (bands(8.0, 5.0, 0.0), (10.0, 45.0), (0, 0)),  # hard borders
        (bands(8.0, 5.0, 2.0), (30.0, 20.0), (37, 11)),  # an inset's crop
        (Fovea(mapping="pooling"), None, (0, 0)),
    ]
    for fovea, gaze, origin in cases:
        made = uniforms(camera, fovea, gaze, origin)
        levels, floors, ceilings = level_map(made, camera.width, camera.height)
        assert levels.shape == (camera.height, camera.width) and levels.dtype == np.float32
        reference = uniform_levels(made, camera.width, camera.height)
        assert np.abs(levels - reference).max() < 2e-3  # float32 as llvmpipe, the ramp's slope
        assert np.ptp(levels) > 0.1  # the map spans levels
        np.testing.assert_array_equal(floors, tile_bounds(levels)[0])
        np.testing.assert_array_equal(ceilings, tile_bounds(levels)[1])


def test_flat_tiles_of_the_level_map_are_the_per_pixel_levels_exactly():
    """Tiles given one level (no ramp within reach) hold what each pixel computes, bitwise."""
    from tests.test_foveation import bands, front_camera
    from viewer.render.fovea import uniforms
    from viewer.render.fovea_host import fov_level_near, fovea_params, level_map

    camera = front_camera(200, 120, fov_x=100.0)
    flat_tiles = ramp_tiles = 0
    for fovea, gaze in ((bands(8.0, 14.0, 3.0), (60.0, 50.0)), (bands(6.0, 20.0, 0.0), None)):
        made = uniforms(camera, fovea, gaze)
        levels, floors, ceilings = level_map(made, camera.width, camera.height)
        params = fovea_params(made)
        for y in range(camera.height):
            for x in range(camera.width):
                at = (np.float32(x + 0.5), np.float32(y + 0.5), np.float32(0.0))
                expected = fov_level_near(*at, params)
                assert levels[y, x] == expected, (x, y)
        flat_tiles += int(np.sum(floors == ceilings))
        ramp_tiles += int(np.sum(floors < ceilings))
    assert flat_tiles > 20 and ramp_tiles > 10


def test_surely_below_never_says_so_of_a_level_that_reaches_b():
    """The host preprocess's cheap test (no atan) against fov_level_near on many pixels."""
    from tests.test_foveation import bands, front_camera
    from viewer.render.fovea import uniforms
    from viewer.render.fovea_host import fov_level_near, fovea_params, surely_below

    rng = np.random.default_rng(8)
    camera = front_camera(400, 300, fov_x=110.0)
    told = 0
    for fovea, gaze in ((bands(10.0, 8.0, 3.0), (200.0, 150.0)), (bands(4.0, 6.0, 0.0), None)):
        params = fovea_params(uniforms(camera, fovea, gaze))
        for px, py in rng.uniform((-50.0, -50.0), (450.0, 350.0), (3000, 2)).astype(np.float32):
            level = fov_level_near(px, py, np.float32(0.0), params)
            for b in (np.float32(1.0), np.float32(2.0), np.float32(3.0)):
                if surely_below(px, py, b, params):
                    assert level < b, (px, py, b, level)
                    told += 1
    assert told > 300  # it tells the pixels well inside a level (the fovea is small here)
