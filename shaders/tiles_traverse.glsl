// Tiles: one 16x16 workgroup walks its tile's depth-sorted splats front to back, in batches
// staged through shared memory, with the 1/255 alpha skip and the 1e-4 transmittance stop of the
// original rasterizer. The including pass declares the Splats, PairValues and Ranges buffers and,
// before this include, defines
//   void stage(uint slot, uint splat, Splat s);     // copy what `blend` needs to shared memory
//   void blend(uint slot, float alpha, float T);    // splat `slot` blended here, T before it
// and, with OPACITY_SCALE defined, float opacity_scale(uint slot) (this pixel's factor on the
// splat's opacity: foveation's weight), then calls `traverse` once per pixel.

const uint BATCH = TILE_SIZE * TILE_SIZE;
shared vec2 s_center[BATCH];
shared vec4 s_conic_opacity[BATCH];
shared uint s_done;
const uint UNROLL = 8u;

// Blend splat k of the batch at pixel centre p; `done` once T would fall below 1e-4.
void visit(uint k, vec2 p, inout float T, inout bool done) {
    vec2 d = p - s_center[k];
    vec4 co = s_conic_opacity[k];
    float power = -0.5 * (co.x * d.x * d.x + co.z * d.y * d.y) - co.y * d.x * d.y;
#ifdef OPACITY_SCALE
    float alpha = min(0.99, co.w * opacity_scale(k) * exp(power));
#else
    float alpha = min(0.99, co.w * exp(power));
#endif
    if (power > 0.0 || alpha < 1.0 / 255.0) return;
    float next_T = T * (1.0 - alpha);
    if (next_T < 1e-4) {
        done = true;
        return;
    }
    blend(k, alpha, T);
    T = next_T;
}

// Final transmittance at pixel centre p of this workgroup's tile (whose pair range is `range`).
// Pixels past the image edge pass inside = false: they only help to stage.
float traverse(vec2 p, uvec2 range, bool inside) {
    float T = 1.0;
    bool done = !inside;
    for (uint base = range.x; base < range.y; base += BATCH) {
        if (gl_LocalInvocationIndex == 0u) s_done = 0u;
        barrier();
        if (done) atomicAdd(s_done, 1u);
        uint j = base + gl_LocalInvocationIndex;
        if (j < range.y) {
            Splat s = splats[splat_of_pair[j]];
            s_center[gl_LocalInvocationIndex] = s.center;
            s_conic_opacity[gl_LocalInvocationIndex] = vec4(s.conic, s.opacity);
            stage(gl_LocalInvocationIndex, splat_of_pair[j], s);
        }
        barrier();
        if (s_done == BATCH) break;
        uint n = min(BATCH, range.y - base);
        // Unrolled by UNROLL: llvmpipe caps the loop iterations of an invocation at 65535 in
        // total, and a tile of a zoomed-out scene can hold more pairs than that.
        for (uint k = 0u; k < n && !done; k += UNROLL) {
            for (uint u = 0u; u < UNROLL; ++u) {
                if (k + u < n && !done) visit(k + u, p, T, done);
            }
        }
        barrier();
    }
    return T;
}
