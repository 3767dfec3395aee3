#version 430
// Turns the per-(digit, block) counts into offsets among the keys of that digit, in place, one
// workgroup per digit, and writes the digit's total.
#include "sort_common.glsl"

layout(local_size_x = SCAN_THREADS) in;

layout(std430, binding = BINDING_BLOCK_COUNTS) buffer BlockCounts {
    uint block_counts[];  // [RADIX * num_blocks], digit-major
};

shared uint s_sums[SCAN_THREADS];

void main() {
    uint t = gl_LocalInvocationIndex;
    uint digit = gl_WorkGroupID.x;
    uint row = digit * state.num_blocks;
    uint per_thread = (state.num_blocks + SCAN_THREADS - 1u) / SCAN_THREADS;
    uint begin = row + min(t * per_thread, state.num_blocks);
    uint end = min(begin + per_thread, row + state.num_blocks);

    // Each invocation sums its own segment of the row, ...
    uint sum = 0u;
    for (uint i = begin; i < end; i++) {
        sum += block_counts[i];
    }
    s_sums[t] = sum;
    barrier();
    // ... the segment sums get an inclusive scan (Hillis-Steele), ...
    for (uint step = 1u; step < SCAN_THREADS; step <<= 1u) {
        uint add = t >= step ? s_sums[t - step] : 0u;
        barrier();
        s_sums[t] += add;
        barrier();
    }
    // ... and each invocation rewrites its segment as offsets.
    if (t == SCAN_THREADS - 1u) {
        state.digit_totals[digit] = s_sums[t];
    }
    uint offset = s_sums[t] - sum;
    for (uint i = begin; i < end; i++) {
        uint c = block_counts[i];
        block_counts[i] = offset;
        offset += c;
    }
}
