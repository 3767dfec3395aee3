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
uniform uint first_tile_row;  // a frame drawn in parts: this part's first row of tiles

shared vec3 s_color[TILE_SIZE * TILE_SIZE];
vec3 C = vec3(0.0);

#ifdef FOVEA
// Foveation: each splat weighs w(b, l) at this pixel's level l (fovea.glsl).
#include "fovea.glsl"
layout(std430, binding = BINDING_GAUSSIAN_IDS) readonly buffer Ids { uint gaussian_from_splat[]; };
shared uint s_stored[TILE_SIZE * TILE_SIZE];
float pixel_level = 0.0;
void stage(uint slot, uint splat, Splat s) {
    s_color[slot] = s.color;
    s_stored[slot] = fov_stored(gaussian_from_splat[splat]);
}
float opacity_scale(uint slot) { return fov_weight(s_stored[slot], pixel_level); }
#define OPACITY_SCALE
#else
void stage(uint slot, uint splat, Splat s) { s_color[slot] = s.color; }
#endif
void blend(uint slot, float alpha, float T) { C += alpha * T * s_color[slot]; }
#include "tiles_traverse.glsl"

void main() {
    uvec2 tile = gl_WorkGroupID.xy + uvec2(0u, first_tile_row);
    uvec2 pixel = tile * uint(TILE_SIZE) + gl_LocalInvocationID.xy;
    bool inside = all(lessThan(vec2(pixel), viewport));
#ifdef FOVEA
    pixel_level = fov_level_near(vec2(pixel) + 0.5, 0.0);
#endif
    uvec2 range = pair_range_of_tile[tile.y * tile_grid.x + tile.x];
    float T = traverse(vec2(pixel) + 0.5, range, inside);
    if (inside) imageStore(accum, ivec2(pixel.x, int(viewport.y) - 1 - int(pixel.y)), vec4(C, 1.0 - T));
}
