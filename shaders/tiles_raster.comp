#version 430
// Tiles backend: one workgroup per 16x16 tile composites its splats front to back.
#include "layout.glsl"

layout(local_size_x = TILE_SIZE, local_size_y = TILE_SIZE) in;
layout(std430, binding = BINDING_SPLATS) readonly buffer Splats { Splat splats[]; };
layout(std430, binding = BINDING_PAIR_SPLATS) readonly buffer PairValues { uint splat_of_pair[]; };
layout(std430, binding = BINDING_TILE_RANGES) readonly buffer Ranges { uvec2 pair_range_of_tile[]; };
layout(rgba32f, binding = 0) uniform writeonly image2D accum;  // premultiplied C, A = 1 - T

uniform vec2 viewport;
uniform uvec2 tile_grid;

const uint BATCH = TILE_SIZE * TILE_SIZE;
shared vec2 s_center[BATCH];
shared vec4 s_conic_opacity[BATCH];
shared vec3 s_color[BATCH];
shared uint s_done;

void main() {
    uvec2 pixel = gl_GlobalInvocationID.xy;
    bool inside = all(lessThan(vec2(pixel), viewport));
    vec2 p = vec2(pixel) + 0.5;
    uvec2 range = pair_range_of_tile[gl_WorkGroupID.y * tile_grid.x + gl_WorkGroupID.x];
    float T = 1.0;
    vec3 C = vec3(0.0);
    bool done = !inside;
    for (uint base = range.x; base < range.y; base += BATCH) {
        if (gl_LocalInvocationIndex == 0u) s_done = 0u;
        barrier();
        if (done) atomicAdd(s_done, 1u);
        uint j = base + gl_LocalInvocationIndex;
        if (j < range.y) {
            Splat s = splats[splat_of_pair[j]];
            s_center[gl_LocalInvocationIndex] = s.center;
            s_conic_opacity[gl_LocalInvocationIndex] = vec4(s.conic, s.opacity);
            s_color[gl_LocalInvocationIndex] = s.color;
        }
        barrier();
        if (s_done == BATCH) break;
        uint n = min(BATCH, range.y - base);
        for (uint k = 0u; k < n && !done; ++k) {
            vec2 d = p - s_center[k];
            vec4 co = s_conic_opacity[k];
            float power = -0.5 * (co.x * d.x * d.x + co.z * d.y * d.y) - co.y * d.x * d.y;
            if (power > 0.0) continue;
            float alpha = min(0.99, co.w * exp(power));
            if (alpha < 1.0 / 255.0) continue;
            float next_T = T * (1.0 - alpha);
            if (next_T < 1e-4) {
                done = true;
                break;
            }
            C += alpha * T * s_color[k];
            T = next_T;
        }
        barrier();
    }
    if (inside) imageStore(accum, ivec2(pixel.x, int(viewport.y) - 1 - int(pixel.y)), vec4(C, 1.0 - T));
}
