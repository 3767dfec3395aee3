#version 430
// Preprocess: cull, flags test, EWA projection, SH colour, footprint, depth key; append visible.
#include "layout.glsl"
#include "colormap.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;

layout(std430, binding = BINDING_MEANS) readonly buffer Means { vec4 means[]; };                 // [n] xyz, 0
layout(std430, binding = BINDING_SCALES) readonly buffer Scales { vec4 scales[]; };               // [n] xyz, 0
layout(std430, binding = BINDING_ROTATIONS) readonly buffer Rotations { vec4 rotations[]; };         // [n] wxyz
layout(std430, binding = BINDING_SH) readonly buffer SH { float sh[]; };                      // [n, K, 3]
layout(std430, binding = BINDING_FLAGS) readonly buffer Flags { uint flags[]; };                 // [n] CPU masks
#ifndef ROW_LIST
layout(std430, binding = BINDING_GPU_FLAGS) readonly buffer GpuFlags { uint gpu_flags[]; };      // [n] GPU passes' bits
#endif
layout(std430, binding = BINDING_OPACITIES) readonly buffer Opacities { float opacities[]; };       // [n]
layout(std430, binding = BINDING_HEAT) readonly buffer Heat { float heat[]; };                    // [n] in [0, 1]
layout(std430, binding = BINDING_COUNTERS) buffer Counters { uint counters[]; };
layout(std430, binding = BINDING_SPLATS) writeonly buffer Splats { Splat splats[]; };             // [capacity]
layout(std430, binding = BINDING_DEPTH_KEYS) writeonly buffer Keys { uint depth_keys[]; };            // [capacity]
layout(std430, binding = BINDING_SORTED_SPLATS) writeonly buffer Values { uint splat_from_sorted[]; };   // [capacity]
layout(std430, binding = BINDING_GAUSSIAN_IDS) writeonly buffer Ids { uint gaussian_from_splat[]; };    // [capacity]
#ifdef LOD
// Level of detail: per node, its parent's blend targets and this frame's weight t (lod_cut.comp).
layout(std430, binding = BINDING_LOD_BLEND) readonly buffer LodBlend { vec4 lod_blend[]; };       // [n, 3]
layout(std430, binding = BINDING_LOD_PARENT_SH) readonly buffer ParentSH { float parent_sh[]; };  // [n, K, 3]
uniform float lod_top_level;  // the deepest level (the heat colour's hot end)
#endif
#ifdef ROW_LIST
// Only the rows listed (global indices, ascending): the LOD cut made on the host lists the rows
// it draws, so the culled ones cost no invocation (on llvmpipe an invocation that returns at
// once still holds its SIMD lane). It lists only rows whose gpu_flags are all clear, so that
// buffer is not read (llvmpipe takes 16 storage blocks: LOD + FOVEA + ROW_LIST would be 17).
layout(std430, binding = BINDING_ROW_LIST) readonly buffer RowList { uint row_list[]; };
uniform uint row_list_start;  // where this chunk's rows begin in row_list
#endif
#ifdef FOVEA
// Foveation's nested subsets (fovea.glsl): a splat's weight at the lowest level its footprint
// reaches scales its opacity (quads and the other per-splat rasters), or, where the tiles
// raster weighs it per pixel, only drops splats of weight 0.
#include "fovea.glsl"
uniform bool fov_per_splat;
#endif

uniform mat4 world_to_camera;
uniform vec3 camera_position;
uniform vec4 intrinsics;      // fx, fy, cx, cy
uniform vec2 viewport;        // width, height in pixels
uniform vec2 tan_half_fov;    // of the whole image (an inset's frame): guard band, clamp
uniform float near_plane;
uniform float guard_band;
uniform float splat_scale;
uniform int sh_degree;        // evaluated degree, <= stored
uniform int sh_coeffs;        // K stored per Gaussian
uniform bool antialias;
uniform bool raw_parameters;  // scales are log-scales, opacities logits (as a trainer holds them)
uniform uint chunk_offset;    // global index of this chunk's first Gaussian
uniform uint chunk_count;
uniform uint flag_mask;
uniform uint capacity;
uniform int colour_source;    // COLOUR_SH, COLOUR_DEPTH or COLOUR_HEAT
uniform vec2 depth_range;     // camera z shown as the coldest and the hottest colour

const vec3 SELECTED_COLOUR = vec3(1.0, 0.1, 0.9);

uint sh_base;
float sh_blend = 0.0;  // LOD: weight of the parent's SH
vec3 sh_at(int k) {
    uint i = sh_base + uint(k) * 3u;
    vec3 own = vec3(sh[i], sh[i + 1u], sh[i + 2u]);
#ifdef LOD
    if (sh_blend > 0.0) return mix(own, vec3(parent_sh[i], parent_sh[i + 1u], parent_sh[i + 2u]), sh_blend);
#endif
    return own;
}
#include "sh.glsl"

mat3 rotation_matrix(vec4 q) {  // q = (w, x, y, z), unit; columns of R
    float w = q.x, x = q.y, y = q.z, z = q.w;
    return mat3(
        1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y + w * z), 2.0 * (x * z - w * y),
        2.0 * (x * y - w * z), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z + w * x),
        2.0 * (x * z + w * y), 2.0 * (y * z - w * x), 1.0 - 2.0 * (x * x + y * y));
}

void main() {
    uint local = gl_GlobalInvocationID.x;
    if (local >= chunk_count) return;  // ROW_LIST: the chunk's listed rows
#ifdef ROW_LIST
    local = row_list[row_list_start + local] - chunk_offset;
#endif
#ifdef ROW_LIST
    if ((flags[local] & flag_mask) != 0u) return;
#else
    if (((flags[local] | gpu_flags[local]) & flag_mask) != 0u) return;
#endif

    vec3 mean = means[local].xyz;
#ifdef LOD
    // Blend towards the parent (Hierarchical 3DGS): mean, covariance, opacity share, SH.
    vec4 blend_mean = lod_blend[3u * local];      // parent mean, opacity share
    vec4 blend_cov = lod_blend[3u * local + 1u];  // parent covariance xx, xy, xz, yy
    vec4 blend_rest = lod_blend[3u * local + 2u]; // yz, zz, t, own level + 256 * parent level
    float lod_t = blend_rest.z;
    if (lod_t > 0.0) mean = mix(mean, blend_mean.xyz, lod_t);
#endif
    vec3 t = (world_to_camera * vec4(mean, 1.0)).xyz;
    if (t.z <= near_plane) return;
    if (guard_band > 0.0 && any(greaterThan(abs(t.xy / t.z), guard_band * tan_half_fov))) return;

    // EWA: cov2d = J W Sigma W^T J^T with the clamped Jacobian, + 0.3 px^2 low-pass.
    vec3 s = scales[local].xyz;
    if (raw_parameters) s = exp(s);
    s *= splat_scale;
    vec4 q = rotations[local];
    if (dot(q, q) == 0.0) return;  // a raw quaternion of zero length has no rotation
    mat3 m = rotation_matrix(normalize(q)) * mat3(s.x, 0, 0, 0, s.y, 0, 0, 0, s.z);
    mat3 sigma = m * transpose(m);
#ifdef LOD
    if (lod_t > 0.0) {
        mat3 parent_sigma = mat3(blend_cov.x, blend_cov.y, blend_cov.z,
                                 blend_cov.y, blend_cov.w, blend_rest.x,
                                 blend_cov.z, blend_rest.x, blend_rest.y) * (splat_scale * splat_scale);
        sigma = sigma + (parent_sigma - sigma) * lod_t;
    }
#endif
    vec2 lim = 1.3 * tan_half_fov;
    vec2 txy = clamp(t.xy / t.z, -lim, lim) * t.z;
    mat3 j = mat3(intrinsics.x / t.z, 0.0, 0.0,
                  0.0, intrinsics.y / t.z, 0.0,
                  -intrinsics.x * txy.x / (t.z * t.z), -intrinsics.y * txy.y / (t.z * t.z), 0.0);
    mat3 tw = j * mat3(world_to_camera);
    mat3 cov = tw * sigma * transpose(tw);
    float det0 = cov[0][0] * cov[1][1] - cov[0][1] * cov[0][1];
    vec3 c2 = vec3(cov[0][0] + 0.3, cov[0][1], cov[1][1] + 0.3);
    float det = c2.x * c2.z - c2.y * c2.y;
    if (det <= 0.0) return;
    float opacity = opacities[local];
    if (raw_parameters) opacity = 1.0 / (1.0 + exp(-opacity));
#ifdef LOD
    if (lod_t > 0.0) opacity = mix(opacity, blend_mean.w, lod_t);
#endif
    if (antialias) opacity *= sqrt(max(det0 / det, 0.0));
    if (opacity < 1.0 / 255.0) return;

    // Box where alpha >= 1/255: the ellipse d^T cov^-1 d <= 2 ln(255 opacity).
    float cutoff = 2.0 * log(255.0 * opacity);
    vec2 extent = sqrt(cutoff * vec2(c2.x, c2.z));
    vec2 center = intrinsics.xy * t.xy / t.z + intrinsics.zw;
    if (any(lessThanEqual(center + extent, vec2(0.0))) ||
        any(greaterThanEqual(center - extent, viewport))) return;
#ifdef FOVEA
    uint stored = fov_stored(chunk_offset + local);
    if (stored < FOV_LEVEL_NONE) {
        // the footprint's farthest reach: the ellipse's major radius
        float major = 0.5 * (c2.x + c2.z) + length(vec2(0.5 * (c2.x - c2.z), c2.y));
        float w = fov_weight(stored, fov_level_near(center, sqrt(cutoff * major)));
        if (fov_per_splat) opacity *= w;
        if (w <= 0.0 || opacity < 1.0 / 255.0) {
            atomicAdd(counters[COUNTER_FOVEA_CULLED], 1u);
            return;
        }
        cutoff = 2.0 * log(255.0 * opacity);
        extent = sqrt(cutoff * vec2(c2.x, c2.z));
    }
#endif

    vec3 color;
    if (colour_source == COLOUR_DEPTH) {
        color = heat_colour((t.z - depth_range.x) / (depth_range.y - depth_range.x));
    } else if (colour_source == COLOUR_HEAT) {
        color = heat_colour(heat[local]);
    } else if (colour_source == COLOUR_LOD_LEVEL) {
#ifdef LOD
        float own_level = mod(blend_rest.w, 256.0);
        float level = mix(own_level, floor(blend_rest.w / 256.0), lod_t);
        color = heat_colour(level / max(lod_top_level, 1.0));
#else
        color = heat_colour(0.0);
#endif
    } else {
        sh_base = local * uint(sh_coeffs) * 3u;
#ifdef LOD
        sh_blend = lod_t;
#endif
        color = max(eval_sh(normalize(mean - camera_position), sh_degree) + 0.5, 0.0);
    }
    if ((flags[local] & FLAG_SELECTED) != 0u) color = SELECTED_COLOUR;

    uint slot = atomicAdd(counters[COUNTER_VISIBLE], 1u);
    if (slot >= capacity) {
        atomicAdd(counters[COUNTER_VISIBLE_OVERFLOW], 1u);
        return;
    }
    splats[slot] = Splat(center, extent, vec3(c2.z, -c2.y, c2.x) / det, opacity, color, t.z);
    depth_keys[slot] = floatBitsToUint(t.z);
    splat_from_sorted[slot] = slot;
    gaussian_from_splat[slot] = chunk_offset + local;
}
