#version 430
// Quads raster: one eigen-aligned quad per visible splat, drawn back to front.
#include "layout.glsl"

layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_SPLATS) readonly buffer Splats { Splat splats[]; };
layout(std430, binding = BINDING_SORTED_SPLATS) readonly buffer Values { uint splat_from_sorted[]; };

uniform vec2 viewport;
uniform uint first_instance;  // a frame drawn in parts: this part's first instance

flat out vec2 v_center;
flat out vec3 v_conic;
flat out float v_opacity;
flat out vec3 v_color;

const vec2 CORNERS[4] = vec2[](vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(-1.0, 1.0), vec2(1.0, 1.0));

void main() {
    uint visible = counters[COUNTER_VISIBLE];
    Splat s = splats[splat_from_sorted[visible - 1u - (first_instance + uint(gl_InstanceID))]];

    // Axes of the ellipse d^T conic d = 2 ln(255 opacity): beyond it alpha < 1/255.
    vec3 cov = vec3(s.conic.z, -s.conic.y, s.conic.x) / (s.conic.x * s.conic.z - s.conic.y * s.conic.y);
    float mid = 0.5 * (cov.x + cov.z);
    float radius = length(vec2(0.5 * (cov.x - cov.z), cov.y));
    float lambda1 = mid + radius;
    float lambda2 = max(mid - radius, 0.0);
    vec2 axis1 = abs(cov.y) > 1e-9 * lambda1 ? normalize(vec2(cov.y, lambda1 - cov.x))
                                             : (cov.x >= cov.z ? vec2(1.0, 0.0) : vec2(0.0, 1.0));
    vec2 axis2 = vec2(-axis1.y, axis1.x);
    float k = sqrt(2.0 * log(255.0 * s.opacity));
    vec2 corner = CORNERS[gl_VertexID];
    vec2 pixel = s.center + k * (corner.x * sqrt(lambda1) * axis1 + corner.y * sqrt(lambda2) * axis2);

    gl_Position = vec4(2.0 * pixel.x / viewport.x - 1.0, 1.0 - 2.0 * pixel.y / viewport.y, 0.0, 1.0);
    v_center = s.center;
    v_conic = s.conic;
    v_opacity = s.opacity;
    v_color = s.color;
}
