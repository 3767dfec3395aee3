// Foveation in the tiles binning: a splat gets a tile's pair only where its weight at the
// tile's lowest level (fov_tiles.comp) is above 0, w(b, l) > 0 <=> l < b.
#include "fovea.glsl"
layout(std430, binding = BINDING_GAUSSIAN_IDS) readonly buffer Ids { uint gaussian_from_splat[]; };
layout(std430, binding = BINDING_FOV_TILES) readonly buffer FovTiles { float fov_tile_level[]; };

bool fov_in_tile(uint stored, uint tile) { return fov_tile_level[tile] < float(stored); }
