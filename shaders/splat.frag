#version 430
// Quads raster: the Gaussian's alpha at this pixel centre, premultiplied colour.

uniform vec2 viewport;

flat in vec2 v_center;
flat in vec3 v_conic;
flat in float v_opacity;
flat in vec3 v_color;

out vec4 frag;

void main() {
    vec2 d = vec2(gl_FragCoord.x, viewport.y - gl_FragCoord.y) - v_center;
    float power = -0.5 * (v_conic.x * d.x * d.x + v_conic.z * d.y * d.y) - v_conic.y * d.x * d.y;
    if (power > 0.0) discard;
    float alpha = min(0.99, v_opacity * exp(power));
    if (alpha < 1.0 / 255.0) discard;
    frag = vec4(v_color * alpha, alpha);
}
