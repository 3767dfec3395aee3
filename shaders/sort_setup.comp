#version 430
// Reads the GPU-side key count and writes the dispatch sizes of the sort passes.
#include "sort_common.glsl"

layout(local_size_x = 1) in;

layout(std430, binding = BINDING_COUNT) restrict readonly buffer Count {
    uint count_words[];
};

uniform uint u_count_index;  // word index of the count in its buffer
uniform uint u_capacity;     // keys the key, value and scratch buffers can hold

void main() {
    uint count = min(count_words[u_count_index], u_capacity);
    uint num_blocks = (count + BLOCK - 1u) / BLOCK;
    state.dispatch_args[0] = num_blocks;
    state.dispatch_args[1] = 1u;
    state.dispatch_args[2] = 1u;
    state.count = count;
    state.num_blocks = num_blocks;
}
