"""Compile the GLSL passes with the shared layout constants, and set their uniforms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import moderngl
import numpy as np

from viewer.render.layout import glsl_defines
from viewer.render.shader_source import shader_source


def compute_shader(
    ctx: moderngl.Context, name: str, defines: Mapping[str, int] | None = None
) -> moderngl.ComputeShader:
    """Compile shaders/<name> as a compute shader, with the layout constants defined."""
    return ctx.compute_shader(shader_source(name, {**glsl_defines(), **(defines or {})}))


def raster_program(ctx: moderngl.Context, vertex: str, fragment: str) -> moderngl.Program:
    """Link shaders/<vertex> and shaders/<fragment>, with the layout constants defined."""
    defines = glsl_defines()
    return ctx.program(
        vertex_shader=shader_source(vertex, defines),
        fragment_shader=shader_source(fragment, defines),
    )


def set_uniforms(program: moderngl.Program | moderngl.ComputeShader, **values: Any) -> None:
    """Set uniforms by name (matrices as row-major arrays); names compiled away are skipped."""
    for name, value in values.items():
        if name not in program:
            continue
        uniform = program[name]
        assert isinstance(uniform, moderngl.Uniform)
        if isinstance(value, np.ndarray) and value.ndim == 2:
            uniform.write(np.ascontiguousarray(value.T, dtype=np.float32).tobytes())
        else:
            uniform.value = value
