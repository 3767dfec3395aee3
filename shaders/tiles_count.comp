#version 430
// Tiles backend: how many tiles each depth-sorted splat touches.
#include "layout.glsl"
#include "tiles.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_SPLATS) readonly buffer Splats { Splat splats[]; };
layout(std430, binding = BINDING_SORTED_SPLATS) readonly buffer Values { uint splat_from_sorted[]; };
layout(std430, binding = BINDING_TILE_COUNTS) writeonly buffer TileCounts { uint tiles_of_sorted[]; };  // [capacity]

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= counters[COUNTER_VISIBLE]) return;
    tiles_of_sorted[i] = tile_count(tile_rect(splats[splat_from_sorted[i]]));
}
