#version 430
// Tiles backend: how many tiles each depth-sorted splat touches.
#include "layout.glsl"
#include "tiles.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_SPLATS) readonly buffer Splats { Splat splats[]; };
layout(std430, binding = BINDING_SORTED_SPLATS) readonly buffer Values { uint splat_from_sorted[]; };
layout(std430, binding = BINDING_TILE_COUNTS) writeonly buffer TileCounts { uint tiles_of_sorted[]; };  // [capacity]
#ifdef FOVEA
#include "fovea_tiles.glsl"
#endif

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= counters[COUNTER_VISIBLE]) return;
    uint slot = splat_from_sorted[i];
    uvec4 rect = tile_rect(splats[slot]);
#ifdef FOVEA
    uint stored = fov_stored(gaussian_from_splat[slot]);
    if (stored < FOV_LEVEL_NONE) {
        uint count = 0u;
        for (uint y = rect.y; y <= rect.w; ++y) {
            for (uint x = rect.x; x <= rect.z; ++x) {
                if (fov_in_tile(stored, y * tile_grid.x + x)) ++count;
            }
        }
        tiles_of_sorted[i] = count;
        return;
    }
#endif
    tiles_of_sorted[i] = tile_count(rect);
}
