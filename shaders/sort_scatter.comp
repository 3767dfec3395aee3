#version 430
// One stable LSD radix pass: each workgroup sorts its block of BLOCK keys by the pass's digit in
// shared memory, then writes keys and values to their places in the output buffers. A digit's
// keys leave a block as one contiguous run, so neighbouring invocations write neighbouring words.
//
// The block sort is itself LSD over SPLIT_BITS-bit sub-digits (a counter per (sub-digit,
// invocation) fits shared memory; one per (digit, invocation) would not). It moves one word per
// key: the key's digit above its index in the block; keys and values are fetched at the end.
#include "sort_common.glsl"
#define SCAN_THREADS THREADS
#include "scan.glsl"

layout(local_size_x = THREADS) in;

layout(std430, binding = BINDING_KEYS_IN) restrict readonly buffer KeysIn {
    uint keys_in[];  // [capacity]
};
layout(std430, binding = BINDING_VALUES_IN) restrict readonly buffer ValuesIn {
    uint values_in[];  // [capacity]
};
layout(std430, binding = BINDING_KEYS_OUT) restrict writeonly buffer KeysOut {
    uint keys_out[];  // [capacity]
};
layout(std430, binding = BINDING_VALUES_OUT) restrict writeonly buffer ValuesOut {
    uint values_out[];  // [capacity]
};
layout(std430, binding = BINDING_BLOCK_COUNTS) restrict readonly buffer BlockOffsets {
    uint block_offsets[];  // [RADIX * num_blocks], digit-major, offsets within each digit
};

#if THREADS < (1 << RADIX_BITS) || THREADS * ITEMS > 65536
#error "the scatter pass needs an invocation per digit and block indices of 16 bits"
#endif

uniform uint u_pass;  // which RADIX_BITS-bit digit of the keys, from the lowest

const uint SPLIT_RADIX = 1u << SPLIT_BITS;
const uint INDEX_BITS = 16u;  // a word is digit << INDEX_BITS | index in block
const uint INDEX_MASK = (1u << INDEX_BITS) - 1u;

// Holds the keys, then the (sub-digit, invocation) counters, then the block's words in order.
// Padding one word in SPLIT_RADIX keeps the raking scan (SPLIT_RADIX consecutive counters per
// invocation) and the reads of an invocation's run free of bank conflicts.
const uint WORDS = max(BLOCK, SPLIT_RADIX * THREADS);
shared uint s_data[WORDS + WORDS / SPLIT_RADIX];
shared uint s_out[RADIX];    // output index of the block's first key of each digit
shared uint s_first[RADIX];  // position of the block's first key of each digit, block sorted

uint padded(uint i) {
    return i + i / SPLIT_RADIX;
}

void main() {
    uint t = gl_LocalInvocationIndex;
    uint block = gl_WorkGroupID.x;
    uint start = block * BLOCK;
    uint n = min(BLOCK, state.count - start);  // keys in this block
    uint digit_start = workgroup_exclusive_scan(t < RADIX ? state.digit_totals[t] : 0u);
    if (t < RADIX) {
        s_out[t] = digit_start + block_offsets[t * state.num_blocks + block];
    }

    // 1. Each invocation takes a contiguous run of ITEMS keys, read coalesced through shared
    //    memory. Keys past the count get the top digit: with their indices they rank last.
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = k * THREADS + t;
        s_data[padded(i)] = i < n ? keys_in[start + i] : 0xFFFFFFFFu;
    }
    barrier();
    uint words[ITEMS];
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = t * ITEMS + k;
        words[k] = digit_of(s_data[padded(i)], u_pass) << INDEX_BITS | i;
    }

    // 2. Stable block sort by SPLIT_BITS sub-digits, lowest first.
    for (uint shift = INDEX_BITS; shift < INDEX_BITS + RADIX_BITS; shift += SPLIT_BITS) {
        // Count the run's sub-digits: counter (sub-digit, invocation) is word sub * THREADS + t.
        barrier();
        for (uint d = 0u; d < SPLIT_RADIX; d++) {
            s_data[padded(d * THREADS + t)] = 0u;
        }
        for (uint k = 0u; k < ITEMS; k++) {
            uint sub = (words[k] >> shift) & (SPLIT_RADIX - 1u);
            s_data[padded(sub * THREADS + t)] += 1u;
        }
        barrier();

        // Exclusive scan of the counters in (sub-digit, invocation) order: each invocation rakes
        // SPLIT_RADIX consecutive counters, the rake sums get a workgroup scan.
        uint sum = 0u;
        for (uint j = 0u; j < SPLIT_RADIX; j++) {
            sum += s_data[padded(t * SPLIT_RADIX + j)];
        }
        uint offset = workgroup_exclusive_scan(sum);
        for (uint j = 0u; j < SPLIT_RADIX; j++) {
            uint c = s_data[padded(t * SPLIT_RADIX + j)];
            s_data[padded(t * SPLIT_RADIX + j)] = offset;
            offset += c;
        }
        barrier();

        // Rank of each word: its counter, bumped in run order; then the words move there.
        uint ranks[ITEMS];
        for (uint k = 0u; k < ITEMS; k++) {
            uint c = padded(((words[k] >> shift) & (SPLIT_RADIX - 1u)) * THREADS + t);
            ranks[k] = s_data[c];
            s_data[c] = ranks[k] + 1u;
        }
        barrier();
        for (uint k = 0u; k < ITEMS; k++) {
            s_data[padded(ranks[k])] = words[k];
        }
        barrier();
        for (uint k = 0u; k < ITEMS; k++) {
            words[k] = s_data[padded(t * ITEMS + k)];
        }
    }

    // 3. Where each digit's run starts in the sorted block.
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = k * THREADS + t;
        uint digit = s_data[padded(i)] >> INDEX_BITS;
        if (i == 0u || s_data[padded(i - 1u)] >> INDEX_BITS != digit) {
            s_first[digit] = i;
        }
    }
    barrier();

    // 4. Keys and values leave in sorted order (all loads issued before the stores).
    uint dst[ITEMS];
    uint keys[ITEMS];
    uint values[ITEMS];
    for (uint k = 0u; k < ITEMS; k++) {
        uint i = min(k * THREADS + t, n - 1u);
        uint word = s_data[padded(i)];
        uint digit = word >> INDEX_BITS;
        uint src = start + (word & INDEX_MASK);
        dst[k] = s_out[digit] + i - s_first[digit];
        keys[k] = keys_in[src];
        values[k] = values_in[src];
    }
    for (uint k = 0u; k < ITEMS; k++) {
        if (k * THREADS + t < n) {
            keys_out[dst[k]] = keys[k];
            values_out[dst[k]] = values[k];
        }
    }
}
