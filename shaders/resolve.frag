#version 430
// Resolve: premultiplied colour C and coverage A = 1 - T, plus the background seen through T.
// An accumulation image smaller than the output (a render scale below 1) is stretched over it,
// bilinearly (C and A are premultiplied, so filtering them is exact blending).

uniform sampler2D accum;
uniform vec3 background;
uniform bool stretch;
uniform vec2 output_size;

out vec4 frag;

void main() {
    vec4 c = stretch ? texture(accum, gl_FragCoord.xy / output_size)
                     : texelFetch(accum, ivec2(gl_FragCoord.xy), 0);
    frag = vec4(c.rgb + (1.0 - c.a) * background, 1.0);
}
