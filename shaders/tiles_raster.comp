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
const uint UNROLL = 8u;

// Blend splat k of the batch into (C, T) front to back; `done` once T would fall below 1e-4.
void composite(uint k, vec2 p, inout vec3 C, inout float T, inout bool done) {
    vec2 d = p - s_center[k];
    vec4 co = s_conic_opacity[k];
    float power = -0.5 * (co.x * d.x * d.x + co.z * d.y * d.y) - co.y * d.x * d.y;
    float alpha = min(0.99, co.w * exp(power));
    if (power > 0.0 || alpha < 1.0 / 255.0) return;
    float next_T = T * (1.0 - alpha);
    if (next_T < 1e-4) {
        done = true;
        return;
    }
    C += alpha * T * s_color[k];
    T = next_T;
}

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
        // Unrolled by UNROLL: llvmpipe caps the loop iterations of an invocation at 65535 in
        // total, and a tile of a zoomed-out scene can hold more pairs than that.
        for (uint k = 0u; k < n && !done; k += UNROLL) {
            for (uint u = 0u; u < UNROLL; ++u) {
                if (k + u < n && !done) composite(k + u, p, C, T, done);
            }
        }
        barrier();
    }
    if (inside) imageStore(accum, ivec2(pixel.x, int(viewport.y) - 1 - int(pixel.y)), vec4(C, 1.0 - T));
}
