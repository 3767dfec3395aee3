#version 430
// Copies keys[0:count] and values[0:count] from the scratch buffers back to the caller's ones,
// after an odd number of passes.
#include "sort_common.glsl"

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

void main() {
    uint end = min((gl_WorkGroupID.x + 1u) * BLOCK, state.count);
    for (uint i = gl_WorkGroupID.x * BLOCK + gl_LocalInvocationIndex; i < end; i += THREADS) {
        keys_out[i] = keys_in[i];
        values_out[i] = values_in[i];
    }
}
