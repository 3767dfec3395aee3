"""Which frames the cpu backend makes on the host, so that no GL frame limit bounds them."""

import dataclasses

import pytest

from viewer.render.budget import draws_on_host, render_use
from viewer.render.context import DeviceInfo
from viewer.setting_specs import SettingsSet
from viewer.settings import FoveationSettings, PruneSettings, RasterSettings, RenderSettings

LLVMPIPE = DeviceInfo("llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa", "4.5", 48 * 1000, 65535)
GPU = dataclasses.replace(LLVMPIPE, renderer="NVIDIA GeForce RTX 4090/PCIe/SSE2")


def settings(**groups: object) -> SettingsSet:
    result = SettingsSet()
    for group in groups.values():
        result = result.replaced(group)
    return result


def test_auto_on_software_gl_and_a_forced_cpu_backend_draw_on_the_host():
    assert draws_on_host(SettingsSet(), LLVMPIPE)  # auto picks cpu there
    assert not draws_on_host(SettingsSet(), GPU)
    assert draws_on_host(settings(raster=RasterSettings(backend="cpu")), GPU)
    for backend in ("quads", "tiles"):
        assert not draws_on_host(settings(raster=RasterSettings(backend=backend)), LLVMPIPE)


@pytest.mark.parametrize(
    "group",
    [
        RasterSettings(validate=True),
        RenderSettings(mode="points"),
        RenderSettings(mode="outlines"),
        FoveationSettings(enabled=True, mapping="pooling"),
    ],
)
def test_frames_through_the_gl_passes_are_not_host_frames(group):
    assert not draws_on_host(settings(group=group), LLVMPIPE)


@pytest.mark.parametrize(
    "group",
    [
        RenderSettings(mode="depth"),
        RenderSettings(mode="overdraw"),  # the cpu composite counts the splats it blends
        RenderSettings(mode="heatmap", heatmap="opacity"),
        # scores measured on views: the cpu backend measures them on the host
        RenderSettings(mode="heatmap", heatmap="significance"),
        PruneSettings(keep=0.5),
        PruneSettings(threshold=0.1, score="efficiency"),
        FoveationSettings(enabled=True, source="subsets", subset_score="significance"),
        PruneSettings(keep=0.5, score="opacity"),
        PruneSettings(score="significance"),  # keeps everything: nothing measured
        FoveationSettings(enabled=True, source="subsets", subset_score="volume"),
        FoveationSettings(enabled=True, source="lod"),
        FoveationSettings(enabled=False, mapping="pooling"),
    ],
)
def test_host_frames_keep_their_modes_and_stored_scores(group):
    assert draws_on_host(settings(group=group), LLVMPIPE)


def test_host_frames_lift_the_splat_limit_and_count_the_host_copies():
    gl, host = render_use(LLVMPIPE, 64, 64), render_use(LLVMPIPE, 64, 64, host=True)
    assert gl.max_points == 1000 and host.max_points is None
    assert host.host_bytes(10**6, 16) > gl.host_bytes(10**6, 16) + 10**6 * 256  # the rows' copy
