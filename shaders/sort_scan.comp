#version 430
// Turns the per-(digit, block) counts into offsets among the keys of that digit, in place, one
// workgroup per digit, and writes the digit's total.
#include "sort_common.glsl"
#define SCAN_THREADS THREADS
#include "scan.glsl"

layout(local_size_x = THREADS) in;

layout(std430, binding = BINDING_BLOCK_COUNTS) restrict buffer BlockCounts {
    uint block_counts[];  // [RADIX * num_blocks], digit-major
};

void main() {
    uint t = gl_LocalInvocationIndex;
    uint digit = gl_WorkGroupID.x;
    uint row = digit * state.num_blocks;
    uint per_thread = (state.num_blocks + THREADS - 1u) / THREADS;
    uint begin = row + min(t * per_thread, state.num_blocks);
    uint end = min(begin + per_thread, row + state.num_blocks);

    // Each invocation sums its own segment of the row, the sums are scanned, and each invocation
    // rewrites its segment as running offsets.
    uint sum = 0u;
    for (uint i = begin; i < end; i++) {
        sum += block_counts[i];
    }
    uint offset = workgroup_exclusive_scan(sum);
    if (t == THREADS - 1u) {
        state.digit_totals[digit] = offset + sum;
    }
    for (uint i = begin; i < end; i++) {
        uint c = block_counts[i];
        block_counts[i] = offset;
        offset += c;
    }
}
