// Exclusive prefix sum across one workgroup of WORKGROUP_SIZE threads (Hillis-Steele in shared).

shared uint s_scan[WORKGROUP_SIZE];

// Returns the exclusive prefix of `value` over the workgroup; `total` gets the workgroup's sum.
uint workgroup_exclusive_scan(uint value, out uint total) {
    uint lane = gl_LocalInvocationIndex;
    s_scan[lane] = value;
    barrier();
    for (uint offset = 1u; offset < WORKGROUP_SIZE; offset <<= 1u) {
        uint add = lane >= offset ? s_scan[lane - offset] : 0u;
        barrier();
        s_scan[lane] += add;
        barrier();
    }
    total = s_scan[WORKGROUP_SIZE - 1u];
    uint inclusive = s_scan[lane];
    barrier();
    return inclusive - value;
}
