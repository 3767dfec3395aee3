#version 430
// Counts each block's keys per digit into block_counts[digit * num_blocks + block] and adds the
// counts to the pass's digit totals.
#include "sort_common.glsl"

layout(local_size_x = THREADS) in;

layout(std430, binding = BINDING_KEYS_IN) readonly buffer KeysIn {
    uint keys_in[];  // [capacity]
};
layout(std430, binding = BINDING_BLOCK_COUNTS) writeonly buffer BlockCounts {
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
    // One atomic per run of equal digits: depth keys share their high digits, and atomics on one
    // shared word from a whole workgroup would serialize.
    uint run_digit = 0u;
    uint run_length = 0u;
    for (uint i = start + t; i < end; i += THREADS) {
        uint d = digit_of(keys_in[i], u_pass);
        if (d != run_digit && run_length > 0u) {
            atomicAdd(s_counts[run_digit], run_length);
            run_length = 0u;
        }
        run_digit = d;
        run_length++;
    }
    if (run_length > 0u) {
        atomicAdd(s_counts[run_digit], run_length);
    }
    barrier();
    for (uint d = t; d < RADIX; d += THREADS) {
        uint c = s_counts[d];
        block_counts[d * state.num_blocks + gl_WorkGroupID.x] = c;
        if (c > 0u) {
            atomicAdd(state.digit_totals[u_pass * RADIX + d], c);
        }
    }
}
