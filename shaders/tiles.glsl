// Tiles backend: the rectangle of 16x16 tiles holding the pixel centres a splat can reach.

uniform vec2 viewport;
uniform uvec2 tile_grid;  // tiles along x and y

// Inclusive tile range [lo, hi] in .xy / .zw; empty when lo > hi.
uvec4 tile_rect(Splat s) {
    // Pixel centres p + 0.5 within [center - extent, center + extent].
    vec2 lo = max(ceil(s.center - s.extent - 0.5), vec2(0.0));
    vec2 hi = min(floor(s.center + s.extent - 0.5), viewport - 1.0);
    if (any(greaterThan(lo, hi))) return uvec4(1u, 1u, 0u, 0u);
    return uvec4(uvec2(lo) / TILE_SIZE, uvec2(hi) / TILE_SIZE);
}

uint tile_count(uvec4 rect) {
    return rect.x > rect.z || rect.y > rect.w ? 0u : (rect.z - rect.x + 1u) * (rect.w - rect.y + 1u);
}
