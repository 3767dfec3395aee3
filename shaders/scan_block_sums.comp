#version 430
// Prefix sum, step 2: one workgroup scans the block totals; the grand total goes to the counters.
#include "layout.glsl"
#include "scan.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_COUNTERS) buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_BLOCK_SUMS) buffer BlockSums { uint block_sums[]; };

void main() {
    uint blocks = counters[DISPATCH_SCAN_BLOCKS];
    uint carry = 0u;
    for (uint base = 0u; base < blocks; base += WORKGROUP_SIZE) {
        uint i = base + gl_LocalInvocationIndex;
        uint value = i < blocks ? block_sums[i] : 0u;
        uint total;
        uint prefix = workgroup_exclusive_scan(value, total);
        if (i < blocks) block_sums[i] = carry + prefix;
        carry += total;
    }
    if (gl_LocalInvocationIndex == 0u) counters[COUNTER_PAIRS] = carry;
}
