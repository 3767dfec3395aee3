// Heat-map colour of t in [0, 1]: HEAT_COLOURS (viewer/render/colormap.py) linearly interpolated.

const vec3 HEAT[] = HEAT_COLOURS;

vec3 heat_colour(float t) {
    float x = clamp(t, 0.0, 1.0) * float(HEAT.length() - 1);
    int lo = min(int(floor(x)), HEAT.length() - 2);
    return mix(HEAT[lo], HEAT[lo + 1], x - float(lo));
}
