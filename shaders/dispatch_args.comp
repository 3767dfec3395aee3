#version 430
// Clamp the appended counts to the buffers' capacities and write indirect dispatch arguments.
#include "layout.glsl"

layout(local_size_x = 1) in;
layout(std430, binding = BINDING_COUNTERS) buffer Counters { uint counters[]; };

uniform uint capacity;       // splat slots
uniform uint pair_capacity;  // (tile, splat) pair slots

void main() {
    uint visible = min(counters[COUNTER_VISIBLE], capacity);
    counters[COUNTER_VISIBLE] = visible;
    counters[DISPATCH_PER_VISIBLE] = ceil_div(visible, WORKGROUP_SIZE);
    counters[DISPATCH_SCAN_BLOCKS] = ceil_div(visible, SCAN_BLOCK);
    uint pairs = counters[COUNTER_PAIRS];
    counters[COUNTER_PAIRS_OVERFLOW] = pairs > pair_capacity ? pairs - pair_capacity : 0u;
    pairs = min(pairs, pair_capacity);
    counters[COUNTER_PAIRS] = pairs;
    counters[DISPATCH_PER_PAIR] = ceil_div(pairs, WORKGROUP_SIZE);
}
