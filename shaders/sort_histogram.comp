#version 430
// Counts each block's keys per digit: block_counts[digit * num_blocks + block].
#include "sort_common.glsl"

layout(local_size_x = THREADS) in;

layout(std430, binding = BINDING_KEYS_IN) readonly buffer KeysIn {
    uint keys_in[];  // [capacity]
};
layout(std430, binding = BINDING_BLOCK_COUNTS) writeonly buffer BlockCounts {
    uint block_counts[];  // [RADIX * num_blocks], digit-major
};

uniform uint u_shift;  // lowest key bit of this pass's digit

shared uint s_counts[RADIX][THREADS];  // per-invocation counters: no atomics, no contention

void main() {
    uint t = gl_LocalInvocationIndex;
    uint start = gl_WorkGroupID.x * BLOCK;
    uint end = min(start + BLOCK, state.count);

    for (uint d = 0u; d < RADIX; d++) {
        s_counts[d][t] = 0u;
    }
    for (uint i = start + t; i < end; i += THREADS) {
        s_counts[digit_of(keys_in[i], u_shift)][t] += 1u;
    }
    barrier();

    // PER_ROW invocations share each digit's row; then the first RADIX invocations add them up.
    const uint PER_ROW = THREADS / RADIX;
    uint row = t / PER_ROW;
    uint sum = 0u;
    for (uint j = t % PER_ROW; j < THREADS; j += PER_ROW) {
        sum += s_counts[row][j];
    }
    barrier();
    s_counts[0][t] = sum;
    barrier();
    if (t < RADIX) {
        uint total = 0u;
        for (uint j = 0u; j < PER_ROW; j++) {
            total += s_counts[0][t * PER_ROW + j];
        }
        block_counts[t * state.num_blocks + gl_WorkGroupID.x] = total;
    }
}
