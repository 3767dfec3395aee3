// Foveation: eccentricity from the gaze, the continuous level it gives, a Gaussian's weight.
// Mirrors viewer/render/fovea.py (its docstring has the rules); uniforms from fovea.uniforms().

uniform vec2 fov_scale;          // pixel -> tangent of the eye's view: p * scale + offset
uniform vec2 fov_offset;
uniform vec3 fov_gaze_ray;       // unit ray of the gaze
uniform float fov_reach;         // radians one pixel of distance spans at most
uniform bool fov_pooling;        // RTGS's pooling-size mapping, else bands in degrees
uniform vec4 fov_borders;        // where each ramp begins (degrees, or pooling level)
uniform int fov_steps;           // levels - 1
uniform float fov_ramp;          // width of each ramp (0: hard borders)
uniform float fov_alpha;         // pooling radius = alpha ecc^2
uniform float fov_focal;         // pixels per tangent unit
uniform float fov_pooling_step;  // sqrt(pooling size) per level

const float FOV_MAX_ANGLE = 1.5533430;  // 89 degrees
const uint FOV_LEVEL_NONE = 255u;

vec3 fov_ray(vec2 pixel) { return normalize(vec3(pixel * fov_scale + fov_offset, 1.0)); }

float fov_angle(vec3 a, vec3 b) { return atan(length(cross(a, b)), dot(a, b)); }

float fov_pooling_level(float ecc, float centre) {
    centre = min(centre, FOV_MAX_ANGLE);
    float radius = fov_alpha * ecc * ecc;
    float major = tan(min(centre + 0.5 * radius, FOV_MAX_ANGLE)) - tan(centre - 0.5 * radius);
    float minor = 2.0 / cos(centre) * tan(0.5 * radius);
    float size = sqrt(max(0.78539816 * major * minor, 0.0)) * fov_focal;
    return size <= 1.0 ? 0.0 : (sqrt(size) - 1.0) / fov_pooling_step;
}

// The continuous level at eccentricity `ecc` of a ray `centre` radians from the eye's axis.
float fov_level(float ecc, float centre) {
    float x = fov_pooling ? fov_pooling_level(ecc, centre) : degrees(ecc);
    float level = 0.0;
    for (int k = 0; k < fov_steps; ++k) {
        level += fov_ramp > 0.0 ? clamp((x - fov_borders[k]) / fov_ramp, 0.0, 1.0)
                                : (x >= fov_borders[k] ? 1.0 : 0.0);
    }
    return level;
}

// A lower bound of the level over the disc of `radius` pixels around `pixel`.
float fov_level_near(vec2 pixel, float radius) {
    vec3 ray = fov_ray(pixel);
    float reach = radius * fov_reach;
    float ecc = max(fov_angle(ray, fov_gaze_ray) - reach, 0.0);
    float centre = max(atan(length(ray.xy), ray.z) - reach, 0.0);
    return fov_level(ecc, centre);
}

// w(b, l): the share of a Gaussian stored with b levels (255: all) at level l.
float fov_weight(uint stored, float level) {
    float y = clamp(float(stored) - level, 0.0, 1.0);
    return y * y * (3.0 - 2.0 * y);
}

#ifdef FOVEA
// The stored levels, four uint8 per word, by global row; rows past the end: FOV_LEVEL_NONE.
layout(std430, binding = BINDING_FOV_LEVELS) readonly buffer FovLevels { uint fov_levels[]; };
uniform uint fov_level_rows;

uint fov_stored(uint row) {
    if (row >= fov_level_rows) return FOV_LEVEL_NONE;
    return (fov_levels[row >> 2u] >> ((row & 3u) * 8u)) & 0xFFu;
}
#endif
