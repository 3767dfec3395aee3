#version 430
// Contributions: the tiles traversal without colour. Per pixel it records the splat of largest
// weight alpha*T, the number of splats blended and the depth where T reaches 0.5; per Gaussian it
// sums the weights over all pixels (fixed point, atomics) when `accumulate` is on.
#include "layout.glsl"

layout(local_size_x = TILE_SIZE, local_size_y = TILE_SIZE) in;
layout(std430, binding = BINDING_SPLATS) readonly buffer Splats { Splat splats[]; };
layout(std430, binding = BINDING_GAUSSIAN_IDS) readonly buffer Ids { uint gaussian_from_splat[]; };
layout(std430, binding = BINDING_PAIR_SPLATS) readonly buffer PairValues { uint splat_of_pair[]; };
layout(std430, binding = BINDING_TILE_RANGES) readonly buffer Ranges { uvec2 pair_range_of_tile[]; };
layout(std430, binding = BINDING_PIXELS) writeonly buffer Pixels { PixelRecord pixels[]; };          // [H * W], row 0 at the top
layout(std430, binding = BINDING_CONTRIBUTIONS) buffer Sums { uint weight_of_gaussian[]; };         // [N] fixed point

uniform vec2 viewport;
uniform uvec2 tile_grid;
uniform uvec2 first_tile;      // of the tiles dispatched (one tile when picking a pixel)
uniform bool accumulate;
uniform float weight_scale;    // fixed-point units per unit of weight; W * H * scale < 2^32

shared uint s_gaussian[TILE_SIZE * TILE_SIZE];
shared float s_depth[TILE_SIZE * TILE_SIZE];
PixelRecord record = PixelRecord(NO_GAUSSIAN, 0.0, 0u, 0.0);

void stage(uint slot, uint splat, Splat s) {
    s_gaussian[slot] = gaussian_from_splat[splat];
    s_depth[slot] = s.depth;
}

void blend(uint slot, float alpha, float T) {
    float weight = alpha * T;
    if (accumulate) atomicAdd(weight_of_gaussian[s_gaussian[slot]], uint(weight * weight_scale + 0.5));
    if (weight > record.top_weight) {
        record.top_weight = weight;
        record.top_gaussian = s_gaussian[slot];
    }
    record.blended += 1u;
    if (record.median_depth == 0.0 && T * (1.0 - alpha) <= 0.5) record.median_depth = s_depth[slot];
}
#include "tiles_traverse.glsl"

void main() {
    uvec2 tile = gl_WorkGroupID.xy + first_tile;
    uvec2 pixel = tile * TILE_SIZE + gl_LocalInvocationID.xy;
    bool inside = all(lessThan(vec2(pixel), viewport));
    traverse(vec2(pixel) + 0.5, pair_range_of_tile[tile.y * tile_grid.x + tile.x], inside);
    if (inside) pixels[pixel.y * uint(viewport.x) + pixel.x] = record;
}
