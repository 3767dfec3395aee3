#version 430
// Tiles backend: [start, end) of each tile's run in the tile-sorted pair list.
#include "layout.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_PAIR_TILES) readonly buffer PairKeys { uint tile_of_pair[]; };
layout(std430, binding = BINDING_TILE_RANGES) buffer Ranges { uvec2 pair_range_of_tile[]; };  // [tiles], zeroed

void main() {
    uint j = gl_GlobalInvocationID.x;
    uint pairs = counters[COUNTER_PAIRS];
    if (j >= pairs) return;
    uint tile = tile_of_pair[j];
    if (j == 0u || tile_of_pair[j - 1u] != tile) pair_range_of_tile[tile].x = j;
    if (j + 1u == pairs || tile_of_pair[j + 1u] != tile) pair_range_of_tile[tile].y = j + 1u;
}
