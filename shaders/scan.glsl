// Exclusive prefix sum across one workgroup of SCAN_THREADS invocations (Hillis-Steele in shared
// memory); SCAN_THREADS is WORKGROUP_SIZE unless the including pass defines it. Every invocation
// of the workgroup must call it.

#ifndef SCAN_THREADS
#define SCAN_THREADS WORKGROUP_SIZE
#endif

shared uint s_scan[SCAN_THREADS];

// Returns the exclusive prefix of `value` over the workgroup; `total` gets the workgroup's sum.
uint workgroup_exclusive_scan(uint value, out uint total) {
    uint lane = gl_LocalInvocationIndex;
    s_scan[lane] = value;
    barrier();
    for (uint offset = 1u; offset < SCAN_THREADS; offset <<= 1u) {
        uint add = lane >= offset ? s_scan[lane - offset] : 0u;
        barrier();
        s_scan[lane] += add;
        barrier();
    }
    total = s_scan[SCAN_THREADS - 1u];
    uint inclusive = s_scan[lane];
    barrier();
    return inclusive - value;
}

uint workgroup_exclusive_scan(uint value) {
    uint total;
    return workgroup_exclusive_scan(value, total);
}
