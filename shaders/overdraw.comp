#version 430
// Overdraw mode: each pixel's count of blended splats (from the contributions pass) as a heat
// colour on a log scale, 1 splat coldest, `max_blended` or more hottest; none: background.
#include "layout.glsl"
#include "colormap.glsl"

layout(local_size_x = TILE_SIZE, local_size_y = TILE_SIZE) in;
layout(std430, binding = BINDING_PIXELS) readonly buffer Pixels { PixelRecord pixels[]; };  // [H * W]
layout(rgba32f, binding = 0) uniform writeonly image2D accum;

uniform vec2 viewport;
uniform float max_blended;

void main() {
    uvec2 pixel = gl_GlobalInvocationID.xy;
    if (any(greaterThanEqual(vec2(pixel), viewport))) return;
    uint blended = pixels[pixel.y * uint(viewport.x) + pixel.x].blended;
    vec4 colour = vec4(0.0);
    if (blended > 0u) colour = vec4(heat_colour(log2(float(blended)) / log2(max_blended)), 1.0);
    imageStore(accum, ivec2(pixel.x, int(viewport.y) - 1 - int(pixel.y)), colour);
}
