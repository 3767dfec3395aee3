#version 430
// Level-of-detail cut, in three stages compiled from this file (STAGE 1, 2, 3):
//   1 histogram: per inner node, (children - 1) added to the bin of its projected size;
//   2 select:    one workgroup finds the smallest tau (a bin edge) whose cut holds the budget;
//   3 cut:       per node, drawn = not expanded and (root or parent expanded): FLAG_LOD_CULLED
//                in gpu_flags, the blend weight t towards the parent, drawn counts per level
//                (SHARED_COUNTS 1: summed per workgroup first, for GPUs, where many atomics
//                on one word queue; 0: straight atomics, for llvmpipe, where a barrier makes
//                every invocation a coroutine and costs more than the atomics).
// Mirrors viewer/features/lod_hierarchy.py (reference_cut, budget_tau, blend_weights) in float32.
// Foveated (fov_lod): a node's size is divided by min(l, 1) fov_tau_scale^max(l - 1, 0), l the
// lowest foveation level its projected disc reaches (fovea.glsl): leaves in the fovea, tau
// growing with eccentricity beyond it.
#include "layout.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;

layout(std430, binding = BINDING_LOD_STATE) buffer LodState { uint lod_state[]; };         // LOD_STATE_WORDS
layout(std430, binding = BINDING_LOD_HISTOGRAM) buffer Histogram { uint histogram[]; };    // LOD_BINS + 1

uniform uint chunk_count;
uniform uint budget;

const float INF = uintBitsToFloat(0x7f800000u);

#if STAGE != 2
layout(std430, binding = BINDING_LOD_CUT) readonly buffer LodCut { vec4 lod_cut[]; };      // [n, 3]
uniform vec3 camera_position;
uniform float focal;             // max(fx, fy) of the image rendered
#include "fovea.glsl"
uniform bool fov_lod;            // foveated: leaves in the fovea, tau growing beyond
uniform float fov_tau_scale;
uniform mat4 world_to_camera;
uniform vec4 intrinsics;         // fx, fy, cx, cy of the image rendered

// tau's factor at a node of projected size `size` (pixels), from the lowest level l its disc
// reaches: min(l, 1) x fov_tau_scale^max(l - 1, 0), so 0 in the fovea (the scene's own
// Gaussians are drawn there); 1 where the sphere reaches the eye's plane.
float fov_tau_factor(vec4 bound, float size) {
    precise vec3 t = (world_to_camera * vec4(bound.xyz, 1.0)).xyz;
    if (t.z <= bound.w || isinf(size)) return 1.0;
    precise vec2 pixel = intrinsics.xy * t.xy / t.z + intrinsics.zw;
    float level = fov_level_near(pixel, size);
    return min(level, 1.0) * pow(fov_tau_scale, max(level - 1.0, 0.0));
}

// f R / (|x - c| - R) pixels, +inf with the camera inside the sphere (c, R); foveated, divided
// by tau's factor there (+inf in the fovea). One function for a node and for its parent's copy,
// so a child sees exactly the size its parent computes.
float node_size(vec4 bound) {
    precise float gap = length(camera_position - bound.xyz) - bound.w;
    precise float size = focal * bound.w / gap;
    if (gap <= 0.0) return INF;
    if (!fov_lod) return size;
    float factor = fov_tau_factor(bound, size);
    return factor > 0.0 ? size / factor : INF;
}

uint size_bin(float size) {
    if (isinf(size)) return uint(LOD_BINS);
    if (!(size > 0.0)) return 0u;
    float b = floor((log2(size) - float(LOD_LOG2_MIN)) * float(LOD_BINS_PER_OCTAVE));
    return uint(clamp(b, 0.0, float(LOD_BINS - 1)));
}
#endif

#if STAGE == 1
void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i >= chunk_count) return;
    float children = lod_cut[3u * i + 2u].x;
    if (children < 2.0) return;  // a leaf: never expanded
    atomicAdd(histogram[size_bin(node_size(lod_cut[3u * i]))], uint(children) - 1u);
}
#endif

#if STAGE == 2
const uint PER_THREAD = uint(LOD_BINS) / uint(WORKGROUP_SIZE);
shared uint block_sum[WORKGROUP_SIZE];
shared uint best;

// count(b) = 1 + sum over expanded inner nodes of (children - 1), expanded = bin >= b; the
// infinite bin is always expanded. The smallest b with count(b) <= budget becomes tau.
void main() {
    uint t = gl_LocalInvocationID.x;
    uint first = t * PER_THREAD;
    uint sum = 0u;
    for (uint k = 0u; k < PER_THREAD; ++k) sum += histogram[first + k];
    block_sum[t] = sum;
    if (t == 0u) best = uint(LOD_BINS);
    barrier();
    for (uint step = 1u; step < uint(WORKGROUP_SIZE); step <<= 1) {  // suffix sums of blocks
        uint add = t + step < uint(WORKGROUP_SIZE) ? block_sum[t + step] : 0u;
        barrier();
        block_sum[t] += add;
        barrier();
    }
    uint count = 1u + histogram[LOD_BINS] + (t + 1u < uint(WORKGROUP_SIZE) ? block_sum[t + 1u] : 0u);
    uint found = uint(LOD_BINS);
    uint found_count = 0u;
    for (int k = int(PER_THREAD) - 1; k >= 0; --k) {  // count(b) grows as b falls
        count += histogram[first + uint(k)];
        if (count > budget) break;
        found = first + uint(k);
        found_count = count;
    }
    if (found < uint(LOD_BINS)) atomicMin(best, found);
    barrier();
    bool none = best == uint(LOD_BINS);
    if ((none && t == 0u) || (!none && found == best)) {
        float tau = none ? INF
            : exp2(float(LOD_LOG2_MIN) + float(best) / float(LOD_BINS_PER_OCTAVE));
        lod_state[LOD_STATE_TAU] = floatBitsToUint(tau);
        lod_state[LOD_STATE_BIN] = best;
        lod_state[LOD_STATE_BUDGET_COUNT] = none ? 1u + histogram[LOD_BINS] : found_count;
    }
}
#endif

#if STAGE == 3
layout(std430, binding = BINDING_GPU_FLAGS) buffer GpuFlags { uint gpu_flags[]; };          // [n]
layout(std430, binding = BINDING_LOD_BLEND) buffer LodBlend { vec4 lod_blend[]; };         // [n, 3]
uniform bool use_budget;         // expanded by bin (the budget's tau) rather than by tau
uniform float blend_width;       // <= 1: no blending

#if SHARED_COUNTS
shared uint level_counts[LOD_MAX_LEVELS];  // per workgroup, then one atomic per level
#endif

bool expanded(float size, float tau, uint tau_bin) {
    return use_budget ? size_bin(size) >= tau_bin : size >= tau;
}

void main() {
    uint i = gl_GlobalInvocationID.x;
#if SHARED_COUNTS
    uint t = gl_LocalInvocationID.x;
    if (t < uint(LOD_MAX_LEVELS)) level_counts[t] = 0u;
    barrier();
#endif
    if (i < chunk_count) {
        float tau = uintBitsToFloat(lod_state[LOD_STATE_TAU]);
        uint tau_bin = lod_state[LOD_STATE_BIN];
        vec4 own = lod_cut[3u * i];
        vec4 parent = lod_cut[3u * i + 1u];
        vec4 info = lod_cut[3u * i + 2u];  // children, level
        float size = node_size(own);
        bool root = parent.w < 0.0;
        float parent_size = root ? INF : node_size(parent);
        bool drawn = !(info.x >= 2.0 && expanded(size, tau, tau_bin))
            && (root || expanded(parent_size, tau, tau_bin));
        uint flags = gpu_flags[i] & ~uint(FLAG_LOD_CULLED);
        gpu_flags[i] = drawn ? flags : flags | uint(FLAG_LOD_CULLED);
        float weight = 0.0;
        if (drawn && !root && blend_width > 1.0 && !isinf(parent_size)) {
            float low = max(parent_size / blend_width, size);
            if (parent_size > low) weight = clamp((tau - low) / (parent_size - low), 0.0, 1.0);
        }
        lod_blend[3u * i + 2u].z = weight;
        uint level = min(uint(info.y), uint(LOD_MAX_LEVELS - 1));
#if SHARED_COUNTS
        if (drawn) atomicAdd(level_counts[level], 1u);
#else
        if (drawn) {
            atomicAdd(lod_state[LOD_STATE_LEVELS + level], 1u);
            atomicAdd(lod_state[LOD_STATE_DRAWN], 1u);
        }
#endif
    }
#if SHARED_COUNTS
    barrier();
    if (t < uint(LOD_MAX_LEVELS) && level_counts[t] != 0u) {
        atomicAdd(lod_state[LOD_STATE_LEVELS + t], level_counts[t]);
        atomicAdd(lod_state[LOD_STATE_DRAWN], level_counts[t]);
    }
#endif
}
#endif
