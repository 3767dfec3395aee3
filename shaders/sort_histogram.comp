#version 430
// Counts each block's keys per digit into block_counts[digit * num_blocks + block].
#include "sort_common.glsl"

layout(local_size_x = THREADS) in;

layout(std430, binding = BINDING_KEYS_IN) restrict readonly buffer KeysIn {
    uint keys_in[];  // [capacity]
};
layout(std430, binding = BINDING_BLOCK_COUNTS) restrict writeonly buffer BlockCounts {
    uint block_counts[];  // [RADIX * num_blocks], digit-major
};

uniform uint u_pass;  // which RADIX_BITS-bit digit of the keys, from the lowest

shared uint s_counts[RADIX];

void main() {
    uint t = gl_LocalInvocationIndex;
    uint start = gl_WorkGroupID.x * BLOCK;
    uint end = min(start + BLOCK, state.count);

    for (uint d = t; d < RADIX; d += THREADS) {
        s_counts[d] = 0u;
    }
    barrier();
    // Loads first, all in flight at once; then one atomic per run of equal digits: depth keys
    // share their high digits, and atomics on one shared word from a whole workgroup serialize.
    uint digits[ITEMS];
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = start + k * THREADS + t;
        digits[k] = i < end ? digit_of(keys_in[i], u_pass) : RADIX;  // RADIX: past the count
    }
    uint run_digit = digits[0];
    uint run_length = 0u;
    for (uint k = 0u; k < ITEMS; k++) {
        if (digits[k] != run_digit) {
            atomicAdd(s_counts[run_digit], run_length);
            run_digit = digits[k];
            run_length = 0u;
        }
        run_length++;
    }
    if (run_digit < RADIX) {
        atomicAdd(s_counts[run_digit], run_length);
    }
    barrier();
    for (uint d = t; d < RADIX; d += THREADS) {
        block_counts[d * state.num_blocks + gl_WorkGroupID.x] = s_counts[d];
    }
}
