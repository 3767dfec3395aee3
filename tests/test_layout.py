"""Host and shader buffer layouts agree: a shader writes each Splat field, numpy reads it back."""

from __future__ import annotations

import numpy as np

from viewer.render import layout
from viewer.resources import shader_dir

BODY = """
layout(local_size_x = 1) in;
layout(std430, binding = 0) writeonly buffer Out { Splat splats[]; };
layout(std430, binding = 1) writeonly buffer Counters { uint words[]; };
void main() {
    splats[1] = Splat(vec2(1, 2), vec2(3, 4), vec3(5, 6, 7), 8.0, vec3(9, 10, 11), 12.0);
    words[0] = COUNTER_WORDS;
    words[1] = BINDING_OPACITIES;
}
"""


def test_splat_struct_and_constants_match(gl_ctx):
    defines = "\n".join(f"#define {k} {v}" for k, v in layout.glsl_defines().items())
    source = "#version 430\n" + defines + "\n" + (shader_dir() / "layout.glsl").read_text() + BODY
    shader = gl_ctx.compute_shader(source)
    out = gl_ctx.buffer(reserve=3 * layout.SPLAT_DTYPE.itemsize)
    words = gl_ctx.buffer(reserve=8)
    out.bind_to_storage_buffer(0)
    words.bind_to_storage_buffer(1)
    shader.run(1)
    splat = np.frombuffer(out.read(), layout.SPLAT_DTYPE)[1]
    assert splat["center"].tolist() == [1, 2]
    assert splat["extent"].tolist() == [3, 4]
    assert splat["conic"].tolist() == [5, 6, 7]
    assert splat["opacity"] == 8 and splat["depth"] == 12
    assert splat["color"].tolist() == [9, 10, 11]
    assert np.frombuffer(words.read(), np.uint32).tolist() == [
        layout.COUNTER_WORDS,
        layout.BINDING_OPACITIES,
    ]


def test_initial_counters_hold_a_draw_command():
    counters = layout.initial_counters()
    assert counters[layout.COUNTER_DRAW_VERTICES] == 4
    assert counters[layout.COUNTER_VISIBLE] == 0
    assert counters[layout.DISPATCH_PER_PAIR + 1] == 1
