"""Compile the GLSL passes with the shared layout constants, and set their uniforms.

Each pass sets its program's uniforms from a frozen dataclass of its own (`PreprocessUniforms`,
`ResolveUniforms`, ...): a field is the uniform of the same name, a field holding another such
dataclass adds that one's fields (the camera's, the fovea's: `CameraUniforms`,
`fovea.FoveaUniforms`), and a field left None is not set (a uniform of another variant).

Setting a name that the program's GLSL source does not declare raises `UnknownUniformError`,
always: a uniform renamed in GLSL but not in Python fails the first frame instead of staying 0.
A declared uniform that the GLSL compiler removed (unused in this variant, or on this driver) is
skipped, as GL itself would ignore it.
"""

from __future__ import annotations

import dataclasses
import re
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import moderngl
import numpy as np

from viewer.camera import Camera
from viewer.render.layout import glsl_defines
from viewer.render.shader_source import shader_source

GlProgram = moderngl.Program | moderngl.ComputeShader

_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)
_UNIFORM = re.compile(r"\buniform\s+([^;{}]*?)\s*;")  # a declaration's type and names
_ARRAY = re.compile(r"\[[^\]]*\]")
# each program's shader files and the uniform names their source declares (dropped with it)
_DECLARED: weakref.WeakKeyDictionary[Any, tuple[str, frozenset[str]]] = weakref.WeakKeyDictionary()


class UnknownUniformError(KeyError):
    """A pass set a uniform its program's GLSL source does not declare (a renamed uniform)."""


def declared_uniforms(*sources: str) -> frozenset[str]:
    """The names of every `uniform` the GLSL sources declare (comments ignored).

    Declarations in every `#if` branch count: a name that some variant of the file declares is
    not a typo.
    """
    names = set()
    for source in sources:
        for match in _UNIFORM.finditer(_COMMENTS.sub(" ", source)):
            for part in _ARRAY.sub("", match.group(1)).split(","):  # uniform float a, b[2];
                names.add(part.split()[-1])
    return frozenset(names)


def compute_shader(
    ctx: moderngl.Context,
    name: str,
    defines: Mapping[str, int | float | str] | None = None,
    *,
    layout: bool = True,
) -> moderngl.ComputeShader:
    """Compile shaders/<name> as a compute shader, with the layout constants defined.

    Args:
        ctx: the GL context.
        name: the file in shaders/.
        defines: more `#define`s (a variant's switches).
        layout: define viewer.render.layout's constants too (the sort passes have their own).
    """
    source = shader_source(name, {**(glsl_defines() if layout else {}), **(defines or {})})
    shader = ctx.compute_shader(source)
    _DECLARED[shader] = name, declared_uniforms(source)
    return shader


def raster_program(ctx: moderngl.Context, vertex: str, fragment: str) -> moderngl.Program:
    """Link shaders/<vertex> and shaders/<fragment>, with the layout constants defined."""
    defines = glsl_defines()
    sources = shader_source(vertex, defines), shader_source(fragment, defines)
    program = ctx.program(vertex_shader=sources[0], fragment_shader=sources[1])
    _DECLARED[program] = f"{vertex}+{fragment}", declared_uniforms(*sources)
    return program


def set_uniforms(program: GlProgram, *groups: Any) -> None:
    """Set the uniforms of `groups` (uniform dataclasses, see the module's docstring).

    Matrices ([4, 4] arrays) are given row-major and written transposed, as GLSL reads them.

    Raises:
        UnknownUniformError: a name the program's source does not declare.
    """
    known = _DECLARED.get(program)
    if known is None:
        raise ValueError("set_uniforms needs a program made by compute_shader or raster_program")
    source, declared = known
    for name, value in _fields(groups):
        if name not in declared:
            raise UnknownUniformError(f"uniform {name!r} is not declared in {source}")
        if name in program:  # else compiled away: unused in this variant
            _write(program, name, value)


def _fields(groups: tuple[Any, ...]) -> Iterator[tuple[str, Any]]:
    """(name, value) of every uniform in the dataclasses `groups`, nested ones flattened."""
    for group in groups:
        for field in dataclasses.fields(group):
            value = getattr(group, field.name)
            if value is None:
                continue
            if dataclasses.is_dataclass(value):
                yield from _fields((value,))
            else:
                yield field.name, value


def _write(program: GlProgram, name: str, value: Any) -> None:
    """Write one uniform (the seam tests watch to see which uniforms a pass sets)."""
    uniform = program[name]
    assert isinstance(uniform, moderngl.Uniform), f"{name} is not a uniform"
    if isinstance(value, np.ndarray) and value.ndim == 2:
        uniform.write(np.ascontiguousarray(value.T, dtype=np.float32).tobytes())
    else:
        uniform.value = value


@dataclass(frozen=True)
class CameraUniforms:
    """The camera as the passes that project read it (preprocess, the LOD cut's fovea).

    Attributes:
        world_to_camera: [4, 4] float32, row-major.
        camera_position: world position of the camera centre.
        intrinsics: fx, fy, cx, cy, pixels.
        viewport: width, height, pixels.
    """

    world_to_camera: np.ndarray
    camera_position: tuple[float, float, float]
    intrinsics: tuple[float, float, float, float]
    viewport: tuple[float, float]

    @classmethod
    def of(cls, camera: Camera) -> CameraUniforms:
        """The uniforms of `camera`."""
        x, y, z = (float(v) for v in camera.position)
        return cls(
            world_to_camera=camera.world_to_camera.astype(np.float32),
            camera_position=(x, y, z),
            intrinsics=(camera.fx, camera.fy, camera.cx, camera.cy),
            viewport=(float(camera.width), float(camera.height)),
        )


@dataclass(frozen=True)
class ViewportUniforms:
    """The image size alone: what the quad rasters and the overdraw colouring read.

    Attributes:
        viewport: width, height, pixels.
    """

    viewport: tuple[float, float]

    @classmethod
    def of(cls, camera: Camera) -> ViewportUniforms:
        """The viewport of `camera`'s image."""
        return cls((float(camera.width), float(camera.height)))
