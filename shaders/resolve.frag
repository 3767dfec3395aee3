#version 430
// Resolve: premultiplied colour C and coverage A = 1 - T, plus the background seen through T.

uniform sampler2D accum;
uniform vec3 background;

out vec4 frag;

void main() {
    vec4 c = texelFetch(accum, ivec2(gl_FragCoord.xy), 0);
    frag = vec4(c.rgb + (1.0 - c.a) * background, 1.0);
}
