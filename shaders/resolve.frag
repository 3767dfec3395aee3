#version 430
// Resolve: premultiplied colour C and coverage A = 1 - T, plus the background seen through T.
// An accumulation image smaller than the output (a render scale below 1) is stretched over it,
// bilinearly (C and A are premultiplied, so filtering them is exact blending).
// An inset (foveated resolution, viewer/render/inset.py) covers `extent` output pixels from
// `origin` and is blended over the output with weight 1 inside `fade` shrunk by `feather`,
// falling smoothly to 0 at `fade`'s edges.

uniform sampler2D accum;
uniform vec3 background;
uniform bool stretch;
uniform vec2 origin;   // output pixel of the accumulation image's corner (0 but for an inset)
uniform vec2 extent;   // output pixels the accumulation image spans
uniform bool inset;
uniform vec4 fade;     // inset: x0, y0, x1, y1 where its weight reaches 0 (output pixels)
uniform vec2 feather;  // inset: width of the weight's ramp along x and y (output pixels)

out vec4 frag;

void main() {
    vec2 p = gl_FragCoord.xy - origin;
    vec4 c = stretch ? texture(accum, p / extent) : texelFetch(accum, ivec2(p), 0);
    float w = 1.0;
    if (inset) {
        vec2 d = min(gl_FragCoord.xy - fade.xy, fade.zw - gl_FragCoord.xy);
        w = smoothstep(0.0, feather.x, d.x) * smoothstep(0.0, feather.y, d.y);
    }
    frag = w * vec4(c.rgb + (1.0 - c.a) * background, 1.0);  // premultiplied by the weight
}
