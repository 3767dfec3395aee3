#version 430
// Outlines mode: a one-pixel ring where the Gaussian's Mahalanobis distance is RING_SIGMA (or the
// edge of its alpha >= 1/255 footprint, if nearer), in its colour, faded by its opacity.

uniform vec2 viewport;

flat in vec2 v_center;
flat in vec3 v_conic;
flat in float v_opacity;
flat in vec3 v_color;

out vec4 frag;

const float RING_SIGMA = 2.0;

void main() {
    vec2 d = vec2(gl_FragCoord.x, viewport.y - gl_FragCoord.y) - v_center;
    float sigmas = sqrt(max(v_conic.x * d.x * d.x + 2.0 * v_conic.y * d.x * d.y + v_conic.z * d.y * d.y, 0.0));
    float ring = min(RING_SIGMA, 0.999 * sqrt(2.0 * log(255.0 * v_opacity)));
    float coverage = clamp(1.0 - abs(sigmas - ring) / max(fwidth(sigmas), 1e-6), 0.0, 1.0);
    if (coverage <= 0.0) discard;
    float alpha = coverage * mix(0.35, 1.0, v_opacity);
    frag = vec4(v_color * alpha, alpha);
}
