// Buffer layouts shared by the passes; constants come from viewer/render/layout.py as #defines.

struct Splat {            // std430, 48 bytes; mirrors SPLAT_DTYPE
    vec2 center;          // pixel coordinates, y down
    vec2 extent;          // half size of the box where alpha >= 1/255, pixels
    vec3 conic;           // inverse 2D covariance (xx, xy, yy)
    float opacity;        // after anti-aliasing compensation
    vec3 color;           // SH colour, clamped at 0
    float depth;          // camera-space z
};

const uint NO_GAUSSIAN = 0xFFFFFFFFu;

struct PixelRecord {      // std430, 16 bytes; mirrors PIXEL_DTYPE
    uint top_gaussian;    // Gaussian with the largest alpha*T here, NO_GAUSSIAN if none
    float top_weight;     // its alpha*T
    uint blended;         // splats blended here
    float median_depth;   // camera z of the splat taking T to 0.5 or below, else 0
};

uint ceil_div(uint a, uint b) { return (a + b - 1u) / b; }
