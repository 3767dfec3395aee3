#version 430
// Points mode: a square dot of point_size pixels at each visible splat's centre, back to front.
#include "layout.glsl"

layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_SPLATS) readonly buffer Splats { Splat splats[]; };
layout(std430, binding = BINDING_SORTED_SPLATS) readonly buffer Values { uint splat_from_sorted[]; };

uniform vec2 viewport;
uniform uint first_instance;  // a frame drawn in parts: this part's first instance
uniform float point_size;

flat out vec3 v_color;

const vec2 CORNERS[4] = vec2[](vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(-1.0, 1.0), vec2(1.0, 1.0));

void main() {
    uint visible = counters[COUNTER_VISIBLE];
    Splat s = splats[splat_from_sorted[visible - 1u - (first_instance + uint(gl_InstanceID))]];
    vec2 pixel = s.center + 0.5 * point_size * CORNERS[gl_VertexID];
    gl_Position = vec4(2.0 * pixel.x / viewport.x - 1.0, 1.0 - 2.0 * pixel.y / viewport.y, 0.0, 1.0);
    v_color = s.color;
}
