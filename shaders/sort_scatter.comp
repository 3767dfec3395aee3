#version 430
// One stable LSD radix pass: each workgroup sorts its block of BLOCK keys by the digit at u_shift
// in shared memory, then writes keys and values to their places in the output buffers. Keys of a
// digit leave a block as one contiguous run, so neighbouring invocations write neighbouring words.
#include "sort_common.glsl"

layout(local_size_x = THREADS) in;

layout(std430, binding = BINDING_KEYS_IN) readonly buffer KeysIn {
    uint keys_in[];  // [capacity]
};
layout(std430, binding = BINDING_VALUES_IN) readonly buffer ValuesIn {
    uint values_in[];  // [capacity]
};
layout(std430, binding = BINDING_KEYS_OUT) writeonly buffer KeysOut {
    uint keys_out[];  // [capacity]
};
layout(std430, binding = BINDING_VALUES_OUT) writeonly buffer ValuesOut {
    uint values_out[];  // [capacity]
};
layout(std430, binding = BINDING_BLOCK_COUNTS) readonly buffer BlockOffsets {
    uint block_offsets[];  // [RADIX * num_blocks], digit-major, from sort_scan.comp
};

uniform uint u_shift;  // lowest key bit of this pass's digit

// Padding one word in RADIX keeps the raking scan (RADIX consecutive words per invocation) free
// of bank conflicts. Holds the per-(digit, invocation) counters, then the block in sorted order.
const uint WORDS = max(BLOCK, RADIX * THREADS);
shared uint s_data[WORDS + WORDS / RADIX];
shared uint s_sums[THREADS];
shared uint s_base[RADIX];  // output index of the block's first key of each digit, minus its rank

uint padded(uint i) {
    return i + i / RADIX;
}

void main() {
    uint t = gl_LocalInvocationIndex;
    uint start = gl_WorkGroupID.x * BLOCK;
    uint n = min(BLOCK, state.count - start);  // keys in this block

    // 1. Each invocation takes a contiguous run of ITEMS keys and values, read coalesced through
    //    shared memory. Keys past the count become ~0u: they rank last and are never written.
    uint keys[ITEMS];
    uint values[ITEMS];
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = k * THREADS + t;
        s_data[padded(i)] = i < n ? keys_in[start + i] : 0xFFFFFFFFu;
    }
    barrier();
    for (uint k = 0u; k < ITEMS; k++) {
        keys[k] = s_data[padded(t * ITEMS + k)];
    }
    barrier();
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = k * THREADS + t;
        s_data[padded(i)] = i < n ? values_in[start + i] : 0u;
    }
    barrier();
    for (uint k = 0u; k < ITEMS; k++) {
        values[k] = s_data[padded(t * ITEMS + k)];
    }
    barrier();

    // 2. Count the run's digits; counter (digit, invocation) is word digit * THREADS + t.
    for (uint d = 0u; d < RADIX; d++) {
        s_data[padded(d * THREADS + t)] = 0u;
    }
    for (uint k = 0u; k < ITEMS; k++) {
        s_data[padded(digit_of(keys[k], u_shift) * THREADS + t)] += 1u;
    }
    barrier();

    // 3. Exclusive scan of the counters in (digit, invocation) order: each invocation rakes
    //    RADIX consecutive counters, the rake sums get a Hillis-Steele scan.
    uint sum = 0u;
    for (uint j = 0u; j < RADIX; j++) {
        sum += s_data[padded(t * RADIX + j)];
    }
    s_sums[t] = sum;
    barrier();
    for (uint step = 1u; step < THREADS; step <<= 1u) {
        uint add = t >= step ? s_sums[t - step] : 0u;
        barrier();
        s_sums[t] += add;
        barrier();
    }
    uint offset = s_sums[t] - sum;
    for (uint j = 0u; j < RADIX; j++) {
        uint c = s_data[padded(t * RADIX + j)];
        s_data[padded(t * RADIX + j)] = offset;
        offset += c;
    }
    barrier();
    if (t < RADIX) {
        uint first_rank = s_data[padded(t * THREADS)];
        s_base[t] = block_offsets[t * state.num_blocks + gl_WorkGroupID.x] - first_rank;
    }
    barrier();

    // 4. Stable rank of each key in the block: its counter, bumped in run order.
    uint ranks[ITEMS];
    for (uint k = 0u; k < ITEMS; k++) {
        uint c = padded(digit_of(keys[k], u_shift) * THREADS + t);
        ranks[k] = s_data[c];
        s_data[c] = ranks[k] + 1u;
    }
    barrier();

    // 5. Keys, then values, go to shared memory in sorted order and out from there.
    for (uint k = 0u; k < ITEMS; k++) {
        s_data[padded(ranks[k])] = keys[k];
    }
    barrier();
    uint dst[ITEMS];
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = k * THREADS + t;
        uint key = s_data[padded(i)];
        dst[k] = s_base[digit_of(key, u_shift)] + i;
        if (i < n) {
            keys_out[dst[k]] = key;
        }
    }
    barrier();
    for (uint k = 0u; k < ITEMS; k++) {
        s_data[padded(ranks[k])] = values[k];
    }
    barrier();
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = k * THREADS + t;
        if (i < n) {
            values_out[dst[k]] = s_data[padded(i)];
        }
    }
}
