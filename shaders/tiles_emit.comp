#version 430
// Tiles backend: one (tile, splat) pair per touched tile, written in depth order.
#include "layout.glsl"
#include "tiles.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_SPLATS) readonly buffer Splats { Splat splats[]; };
layout(std430, binding = BINDING_SORTED_SPLATS) readonly buffer Values { uint splat_from_sorted[]; };
layout(std430, binding = BINDING_TILE_COUNTS) readonly buffer TileOffsets { uint pair_offset_of_sorted[]; };
layout(std430, binding = BINDING_PAIR_TILES) writeonly buffer PairKeys { uint tile_of_pair[]; };    // [pair_capacity]
layout(std430, binding = BINDING_PAIR_SPLATS) writeonly buffer PairValues { uint splat_of_pair[]; }; // [pair_capacity]

uniform uint pair_capacity;
#ifdef FOVEA
#include "fovea_tiles.glsl"
#endif

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= counters[COUNTER_VISIBLE]) return;
    uint slot = splat_from_sorted[i];
    uvec4 rect = tile_rect(splats[slot]);
    uint pair = pair_offset_of_sorted[i];
#ifdef FOVEA
    uint stored = fov_stored(gaussian_from_splat[slot]);
#endif
    for (uint y = rect.y; y <= rect.w; ++y) {
        for (uint x = rect.x; x <= rect.z; ++x) {
#ifdef FOVEA
            if (!fov_in_tile(stored, y * tile_grid.x + x)) continue;
#endif
            if (pair >= pair_capacity) return;
            tile_of_pair[pair] = y * tile_grid.x + x;
            splat_of_pair[pair] = slot;
            ++pair;
        }
    }
}
