#version 430
// Prefix sum, step 1: exclusive scan inside each block of SCAN_BLOCK values; block totals out.
#include "layout.glsl"
#include "scan.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_COUNTERS) readonly buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_TILE_COUNTS) buffer Data { uint data[]; };               // [count], in place
layout(std430, binding = BINDING_BLOCK_SUMS) writeonly buffer BlockSums { uint block_sums[]; };

void main() {
    uint count = counters[COUNTER_VISIBLE];
    uint first = gl_WorkGroupID.x * SCAN_BLOCK + gl_LocalInvocationIndex * SCAN_ITEMS_PER_THREAD;
    uint items[SCAN_ITEMS_PER_THREAD];
    uint sum = 0u;
    for (uint k = 0u; k < SCAN_ITEMS_PER_THREAD; ++k) {
        items[k] = first + k < count ? data[first + k] : 0u;
        sum += items[k];
    }
    uint total;
    uint running = workgroup_exclusive_scan(sum, total);
    for (uint k = 0u; k < SCAN_ITEMS_PER_THREAD; ++k) {
        if (first + k < count) data[first + k] = running;
        running += items[k];
    }
    if (gl_LocalInvocationIndex == 0u) block_sums[gl_WorkGroupID.x] = total;
}
