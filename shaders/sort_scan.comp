#version 430
// Turns the per-(digit, block) counts into output offsets, in place: one workgroup per digit
// scans that digit's row and adds the totals of all smaller digits.
#include "sort_common.glsl"

layout(local_size_x = SCAN_THREADS) in;

layout(std430, binding = BINDING_BLOCK_COUNTS) buffer BlockCounts {
    uint block_counts[];  // [RADIX * num_blocks], digit-major
};

uniform uint u_pass;  // which RADIX_BITS-bit digit of the keys, from the lowest

shared uint s_sums[SCAN_THREADS];
shared uint s_smaller;  // keys of all digits below this workgroup's

void main() {
    uint t = gl_LocalInvocationIndex;
    uint digit = gl_WorkGroupID.x;
    uint row = digit * state.num_blocks;
    uint per_thread = (state.num_blocks + SCAN_THREADS - 1u) / SCAN_THREADS;
    uint begin = row + min(t * per_thread, state.num_blocks);
    uint end = min(begin + per_thread, row + state.num_blocks);

    if (t == 0u) {
        s_smaller = 0u;
    }
    uint smaller = 0u;
    for (uint d = t; d < digit; d += SCAN_THREADS) {
        smaller += state.digit_totals[u_pass * RADIX + d];
    }
    // Each invocation sums its own segment of the row, ...
    uint sum = 0u;
    for (uint i = begin; i < end; i++) {
        sum += block_counts[i];
    }
    s_sums[t] = sum;
    barrier();
    if (smaller > 0u) {
        atomicAdd(s_smaller, smaller);
    }
    // ... the segment sums get an inclusive scan (Hillis-Steele), ...
    for (uint step = 1u; step < SCAN_THREADS; step <<= 1u) {
        uint add = t >= step ? s_sums[t - step] : 0u;
        barrier();
        s_sums[t] += add;
        barrier();
    }
    // ... and each invocation rewrites its segment as output offsets.
    uint offset = s_smaller + s_sums[t] - sum;
    for (uint i = begin; i < end; i++) {
        uint c = block_counts[i];
        block_counts[i] = offset;
        offset += c;
    }
}
