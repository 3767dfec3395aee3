"""GPU contracts: every pass sets exactly the uniforms its GLSL declares, through typed dataclasses.

`set_uniforms` refuses a name the program's source does not declare (a GLSL uniform renamed
without its Python side fails at once instead of staying 0); the sweep below renders every mode
and variant and checks the other direction: every uniform a program really uses is set by its pass.
"""

from __future__ import annotations

import dataclasses

import moderngl
import numpy as np
import pytest

from tests.conftest import random_scene
from viewer.camera import Camera
from viewer.features.foveation import subset_levels
from viewer.features.lod_gpu import attach_hierarchy, node_levels
from viewer.features.lod_hierarchy import build_hierarchy
from viewer.render import programs
from viewer.render.fovea import Fovea
from viewer.render.frame_inputs import FrameInputs, LodCut
from viewer.render.gpu_scene import GpuScene
from viewer.render.programs import (
    UnknownUniformError,
    ViewportUniforms,
    compute_shader,
    declared_uniforms,
    set_uniforms,
)
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings


def test_declarations_are_read_from_the_source():
    source = """
    #version 430
    uniform vec2 viewport;   // uniform float commented_out;
    /* uniform int blocked_out; */
    layout(rgba32f, binding = 0) uniform writeonly image2D accum;
    uniform float a, b[4];
    #ifdef FOVEA
    uniform uint fov_level_rows;
    #endif
    layout(std430, binding = 1) buffer Data { uint data[]; };
    """
    assert declared_uniforms(source) == {"viewport", "accum", "a", "b", "fov_level_rows"}


@dataclasses.dataclass(frozen=True)
class _Renamed:
    viewport_size: tuple[float, float]  # the GLSL calls it viewport


@dataclasses.dataclass(frozen=True)
class _LodOnly:
    lod_top_level: float  # declared under #ifdef LOD only


def test_an_undeclared_uniform_is_an_error_and_a_compiled_away_one_is_not(gl_ctx):
    shader = compute_shader(gl_ctx, "overdraw.comp")
    try:
        with pytest.raises(UnknownUniformError, match="viewport_size"):
            set_uniforms(shader, _Renamed((4.0, 4.0)))
        set_uniforms(shader, ViewportUniforms((4.0, 4.0)))
        assert shader["viewport"].value == (4.0, 4.0)
    finally:
        shader.release()
    base = compute_shader(gl_ctx, "preprocess.comp")  # without LOD: no such uniform to set
    try:
        assert "lod_top_level" not in base
        set_uniforms(base, _LodOnly(3.0))
    finally:
        base.release()
    foreign = gl_ctx.compute_shader(
        "#version 430\nlayout(local_size_x = 1) in;\nuniform vec2 viewport;\nvoid main() {}\n"
    )
    try:
        with pytest.raises(ValueError, match="compute_shader or raster_program"):
            set_uniforms(foreign, ViewportUniforms((1.0, 1.0)))  # its declarations are unknown
    finally:
        foreign.release()


# -- every uniform a program uses is set by its pass ----------------------------------------------

OPAQUE = {"accum"}  # images and samplers bound by layout(binding) or a texture unit, not set


def _sweep(renderer: SplatRenderer, gpu: GpuScene, camera: Camera) -> None:
    """Draw every mode and variant once: LOD cuts (tau, budget), subsets, an inset, measure."""
    fovea = Fovea(borders=(8.0, 14.0, 20.0), lod_tau_scale=2.0)
    inset = dataclasses.replace(fovea, periphery_scale=0.5)
    for mode in ("colour", "depth", "heatmap", "points", "outlines", "overdraw"):
        renderer.render_image(gpu, FrameInputs(camera), RenderSettings(mode=mode))
    lod_heat = RenderSettings(mode="heatmap", heatmap="lod_level")
    for inputs, settings in (
        (FrameInputs(camera, lod=LodCut(tau=2.0)), lod_heat),
        (FrameInputs(camera, lod=LodCut(tau=2.0, budget=50)), RenderSettings()),
        (FrameInputs(camera, fovea=fovea), RenderSettings()),
        (FrameInputs(camera, fovea=fovea, lod=LodCut()), RenderSettings(mode="overdraw")),
        (FrameInputs(camera, fovea=fovea, lod=LodCut(budget=50)), RenderSettings()),
        (FrameInputs(camera, fovea=inset, gaze=(20.0, 20.0)), RenderSettings()),
    ):
        renderer.render_image(gpu, inputs, settings)
    renderer.measure(gpu, FrameInputs(camera), RenderSettings(), weights=True)
    renderer.measure(gpu, FrameInputs(camera), RenderSettings(), pixel=(3, 3))


@pytest.mark.parametrize(("backend", "sort"), [("quads", "gpu"), ("tiles", "cpu")])
def test_every_uniform_a_program_reads_is_set_by_its_pass(gl_ctx, monkeypatch, backend, sort):
    rng = np.random.default_rng(3)
    scene = random_scene(rng, 300, sh_degree=1)
    camera = Camera.look_at((0.0, -2.0, 0.4), (0, 0, 0), (0, 0, 1), 48, 36, 60.0)
    tree = build_hierarchy(scene)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    attach_hierarchy(gpu, tree)
    gpu.write_levels(node_levels(tree, subset_levels(rng.uniform(size=scene.count),
                                                     (1.0, 0.5, 0.3, 0.2))))  # fmt: skip
    gpu.write_heat(rng.uniform(size=gpu.count).astype(np.float32))
    set_by: dict[int, set[str]] = {}
    write = programs._write

    def recording(program, name, value):
        set_by.setdefault(id(program), set()).add(name)
        write(program, name, value)

    monkeypatch.setattr(programs, "_write", recording)
    before = set(map(id, programs._DECLARED))
    renderer = SplatRenderer(gl_ctx, RasterSettings(backend=backend, sort=sort, validate=True))
    try:
        _sweep(renderer, gpu, camera)
        made = [(p, name) for p, (name, _) in programs._DECLARED.items() if id(p) not in before]
        assert len(made) >= 10
        for program, name in made:
            used = {n for n in program if isinstance(program[n], moderngl.Uniform)} - OPAQUE
            unset = used - set_by.get(id(program), set())
            assert not unset, f"no pass sets {sorted(unset)} of {name}"
    finally:
        renderer.release()
        gpu.release()
