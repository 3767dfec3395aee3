#version 430
// Turns the per-(digit, block) counts into exclusive offsets, in place, in one workgroup: each
// (digit, block) then holds where that block's keys with that digit start in the pass's output.
#include "sort_common.glsl"

layout(local_size_x = SCAN_THREADS) in;

layout(std430, binding = BINDING_BLOCK_COUNTS) buffer BlockCounts {
    uint block_counts[];  // [RADIX * num_blocks], digit-major
};

shared uint s_sums[SCAN_THREADS];

void main() {
    uint t = gl_LocalInvocationIndex;
    uint total = RADIX * state.num_blocks;
    uint per_thread = (total + SCAN_THREADS - 1u) / SCAN_THREADS;
    uint begin = min(t * per_thread, total);
    uint end = min(begin + per_thread, total);

    // Each invocation sums its own segment, ...
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
    // ... and each invocation rewrites its segment as exclusive offsets.
    uint offset = s_sums[t] - sum;
    for (uint i = begin; i < end; i++) {
        uint c = block_counts[i];
        block_counts[i] = offset;
        offset += c;
    }
}
