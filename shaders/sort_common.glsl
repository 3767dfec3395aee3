// Constants and the state block shared by the sort passes (sort_*.comp).
// viewer/render/sort.py passes THREADS, ITEMS, RADIX_BITS, SPLIT_BITS and the BINDING_* numbers
// as #defines, so the host and the shaders agree on them by construction.

const uint RADIX = 1u << RADIX_BITS;       // buckets per pass
const uint BLOCK = uint(THREADS * ITEMS);  // keys per workgroup of the block passes

// Written by sort_setup.comp and sort_scan.comp, read by the others.
layout(std430, binding = BINDING_STATE) buffer SortState {
    uint dispatch_args[3];  // indirect dispatch of the block passes: (num_blocks, 1, 1)
    uint count;             // keys to sort, clamped to the buffers' capacity
    uint num_blocks;        // ceil(count / BLOCK)
    uint digit_totals[RADIX];  // keys with each digit in this pass, over all blocks
} state;

uint digit_of(uint key, uint pass) {
    return (key >> (pass * RADIX_BITS)) & (RADIX - 1u);
}
