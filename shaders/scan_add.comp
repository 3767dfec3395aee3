#version 430
// Prefix sum, step 3: add each block's offset to its values.
#include "layout.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_TILE_COUNTS) buffer Data { uint data[]; };
layout(std430, binding = BINDING_BLOCK_SUMS) readonly buffer BlockSums { uint block_sums[]; };

void main() {
    uint count = counters[COUNTER_VISIBLE];
    uint first = gl_WorkGroupID.x * SCAN_BLOCK + gl_LocalInvocationIndex * SCAN_ITEMS_PER_THREAD;
    uint offset = block_sums[gl_WorkGroupID.x];
    for (uint k = 0u; k < SCAN_ITEMS_PER_THREAD; ++k) {
        if (first + k < count) data[first + k] += offset;
    }
}
