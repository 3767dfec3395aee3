#version 430
// Points mode: opaque dots in the splat's colour.

flat in vec3 v_color;

out vec4 frag;

void main() {
    frag = vec4(v_color, 1.0);
}
