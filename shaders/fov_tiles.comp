#version 430
// Foveation, tiles backend: the lowest level of each 16x16 tile (its centre's eccentricity less
// the tile's angular half-diagonal), read by the binning passes.
#include "layout.glsl"
#include "fovea.glsl"

layout(local_size_x = WORKGROUP_SIZE) in;
layout(std430, binding = BINDING_FOV_TILES) writeonly buffer FovTiles { float fov_tile_level[]; };

uniform uvec2 tile_grid;
uniform float tile_reach;  // tile centre to its farthest pixel centre, pixels

void main() {
    uint tile = gl_GlobalInvocationID.x;
    if (tile >= tile_grid.x * tile_grid.y) return;
    vec2 centre = (vec2(tile % tile_grid.x, tile / tile_grid.x) + 0.5) * float(TILE_SIZE);
    fov_tile_level[tile] = fov_level_near(centre, tile_reach);
}
