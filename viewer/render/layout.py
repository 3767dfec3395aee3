"""GPU buffer layouts, defined once: GLSL gets every constant from here as a #define.

The std430 struct `Splat` is mirrored in shaders/layout.glsl; tests/test_layout.py checks that a
shader writing each field lands at the offsets of `SPLAT_DTYPE`.
"""

from __future__ import annotations

import numpy as np

from viewer.render.colormap import glsl_table

WORKGROUP_SIZE = 256
TILE_SIZE = 16

# SSBO binding points, the same in every pass (each pass binds what it uses before it runs).
BINDING_MEANS = 0
BINDING_SCALES = 1
BINDING_ROTATIONS = 2
BINDING_SH = 3
BINDING_FLAGS = 4
BINDING_COUNTERS = 5
BINDING_SPLATS = 6
BINDING_DEPTH_KEYS = 7
BINDING_SORTED_SPLATS = 8
BINDING_GAUSSIAN_IDS = 9
BINDING_TILE_COUNTS = 10
BINDING_PAIR_TILES = 11
BINDING_PAIR_SPLATS = 12
BINDING_TILE_RANGES = 13
BINDING_BLOCK_SUMS = 14
BINDING_OPACITIES = 15
BINDING_PIXELS = 16
BINDING_CONTRIBUTIONS = 17
BINDING_HEAT = 18
BINDING_GPU_FLAGS = 19
BINDING_LOD_CUT = 20  # per node: its bounding sphere, its parent's, children and level
BINDING_LOD_BLEND = 21  # per node: the parent's blend targets and this frame's weight t
BINDING_LOD_PARENT_SH = 22  # per node: the parent's SH coefficients
BINDING_LOD_STATE = 23  # the frame's cut: tau, its histogram bin, drawn counts per level
BINDING_LOD_HISTOGRAM = 24  # budget cut: (children - 1) summed per projected-size bin
BINDING_FOV_LEVELS = 25  # foveation: per row the levels keeping it, 4 uint8 per word
BINDING_FOV_TILES = 26  # foveation: per tile its lowest level (float), this frame's
BINDING_ROW_LIST = 27  # preprocess: the rows it runs over, where the LOD cut was made on the host

# Per-Gaussian flag bits. The CPU writes its masks into the `flags` buffer, GPU passes write theirs
# into `gpu_flags` every frame (so neither overwrites the other); the preprocess pass drops a
# Gaussian when `(flags | gpu_flags) & flag_mask` is non-zero.
FLAG_HIDDEN = 1 << 0  # CPU: crop box / manual hide
FLAG_PRUNED = 1 << 1  # CPU: pruning
FLAG_LOD_CULLED = 1 << 2  # GPU: not in the current LOD cut
FLAG_FOVEA_CULLED = 1 << 3  # reserved (foveation decides in preprocess and binning, no bit)
ALL_FLAGS = FLAG_HIDDEN | FLAG_PRUNED | FLAG_LOD_CULLED | FLAG_FOVEA_CULLED
FLAG_SELECTED = 1 << 8  # CPU: drawn highlighted (picked in the viewer); never culls
CPU_FLAGS = FLAG_HIDDEN | FLAG_PRUNED | FLAG_SELECTED
GPU_FLAGS = FLAG_LOD_CULLED | FLAG_FOVEA_CULLED

# Where the preprocess pass takes each splat's colour from.
COLOUR_SH = 0  # spherical harmonics (the image)
COLOUR_DEPTH = 1  # heat colour of the camera depth
COLOUR_HEAT = 2  # heat colour of the per-Gaussian `heat` values
COLOUR_LOD_LEVEL = 3  # heat colour of the LOD level drawn (blends in between)

# Level of detail (viewer/render/lod_cut.py, shaders/lod_cut.comp). Per-node rows, float32:
# lod_cut: centre xyz, radius; parent centre xyz, radius (-1: root); children, level, 0, 0.
# lod_blend: parent mean xyz, target opacity; parent cov xx xy xz yy; yz zz, t, levels.
LOD_CUT_FLOATS = 12
LOD_BLEND_FLOATS = 12
# Projected sizes are binned on a log scale for the budget cut: bin b holds sizes in
# [2^(LOD_LOG2_MIN + b / LOD_BINS_PER_OCTAVE), the next edge); sizes below the first edge go to
# bin 0, above the last to the last bin; the extra bin LOD_BINS holds infinite sizes.
LOD_BINS_PER_OCTAVE = 32
LOD_LOG2_MIN = -24
LOD_BINS = 64 * LOD_BINS_PER_OCTAVE  # 2^-24 .. 2^40 pixels
# The `lod_state` buffer: uint words.
LOD_STATE_TAU = 0  # float bits of the tau the cut used
LOD_STATE_BIN = 1  # its bin (budget cut: expanded = bin(size) >= this)
LOD_STATE_DRAWN = 2  # nodes drawn
LOD_STATE_BUDGET_COUNT = 3  # budget cut: nodes the histogram says the chosen tau draws
LOD_STATE_LEVELS = 4  # first of LOD_MAX_LEVELS counts of drawn nodes per level (last: and above)
LOD_MAX_LEVELS = 60
LOD_STATE_WORDS = LOD_STATE_LEVELS + LOD_MAX_LEVELS

# Layout of the `counters` buffer: uint32 words. Words 0-3 are a DrawArraysIndirectCommand whose
# instance count is the visible count, so the quad draw needs no CPU round trip.
COUNTER_DRAW_VERTICES = 0  # = 4, the quad's vertex count
COUNTER_VISIBLE = 1  # atomic append counter of the preprocess pass = instance count
COUNTER_PAIRS = 4  # (tile, splat) pairs emitted by the tiles backend
COUNTER_VISIBLE_OVERFLOW = 5  # visible Gaussians dropped: splat buffers full
COUNTER_PAIRS_OVERFLOW = 6  # pairs needed beyond the pair buffers' capacity
COUNTER_FOVEA_CULLED = 7  # Gaussians in view that foveation left out (weight 0 where they reach)
DISPATCH_PER_VISIBLE = 8  # 3 words: workgroups covering one thread per visible splat
DISPATCH_PER_PAIR = 11  # 3 words: workgroups covering one thread per tile pair
DISPATCH_SCAN_BLOCKS = 14  # 3 words: workgroups of the block scan over visible splats
COUNTER_SATURATED = 17  # cpu backend: pixels that saturated (stopped before T fell below 1e-4)
COUNTER_SATURATION_DEPTH = 18  # cpu backend: splats blended into those pixels, summed
COUNTER_WORDS = 20

SCAN_ITEMS_PER_THREAD = 8
SCAN_BLOCK = WORKGROUP_SIZE * SCAN_ITEMS_PER_THREAD

SPLAT_DTYPE = np.dtype(
    [
        ("center", np.float32, 2),  # pixel coordinates, y down
        ("extent", np.float32, 2),  # half size of the box where alpha >= 1/255, pixels
        ("conic", np.float32, 3),  # inverse 2D covariance (xx, xy, yy)
        ("opacity", np.float32),  # after anti-aliasing compensation
        ("color", np.float32, 3),  # SH colour, clamped at 0
        ("depth", np.float32),  # camera-space z
    ]
)
assert SPLAT_DTYPE.itemsize == 48

# What the contributions pass records per pixel; mirrored by `PixelRecord` in layout.glsl.
PIXEL_DTYPE = np.dtype(
    [
        ("top_gaussian", np.uint32),  # Gaussian with the largest alpha*T here, NO_GAUSSIAN if none
        ("top_weight", np.float32),  # its alpha*T
        ("blended", np.uint32),  # splats blended here (alpha >= 1/255, before the 1e-4 stop)
        ("median_depth", np.float32),  # camera z of the splat taking T to 0.5 or below, else 0
    ]
)
assert PIXEL_DTYPE.itemsize == 16
NO_GAUSSIAN = 0xFFFFFFFF  # also in layout.glsl (a #define would lack GLSL's u suffix)


def glsl_defines() -> dict[str, int | str]:
    """Every constant above and the heat-map colours, for `shader_source(..., defines=...)`."""
    names = [
        *(name for name in globals() if name.startswith("BINDING_")),
        "WORKGROUP_SIZE", "TILE_SIZE", "FLAG_HIDDEN", "FLAG_PRUNED", "FLAG_LOD_CULLED",
        "FLAG_FOVEA_CULLED", "FLAG_SELECTED", "COLOUR_SH", "COLOUR_DEPTH", "COLOUR_HEAT",
        "COLOUR_LOD_LEVEL", "LOD_CUT_FLOATS", "LOD_BLEND_FLOATS", "LOD_BINS_PER_OCTAVE",
        "LOD_LOG2_MIN", "LOD_BINS", "LOD_STATE_TAU", "LOD_STATE_BIN", "LOD_STATE_DRAWN",
        "LOD_STATE_BUDGET_COUNT", "LOD_STATE_LEVELS", "LOD_MAX_LEVELS", "LOD_STATE_WORDS",
        "COUNTER_DRAW_VERTICES", "COUNTER_VISIBLE", "COUNTER_PAIRS", "COUNTER_VISIBLE_OVERFLOW",
        "COUNTER_PAIRS_OVERFLOW", "COUNTER_FOVEA_CULLED", "DISPATCH_PER_VISIBLE",
        "DISPATCH_PER_PAIR", "DISPATCH_SCAN_BLOCKS", "COUNTER_WORDS", "SCAN_ITEMS_PER_THREAD",
        "SCAN_BLOCK",
    ]  # fmt: skip
    return {**{name: int(globals()[name]) for name in names}, "HEAT_COLOURS": glsl_table()}


def initial_counters() -> np.ndarray:
    """[COUNTER_WORDS] uint32 counters at the start of a frame."""
    counters = np.zeros(COUNTER_WORDS, dtype=np.uint32)
    counters[COUNTER_DRAW_VERTICES] = 4
    for base in (DISPATCH_PER_VISIBLE, DISPATCH_PER_PAIR, DISPATCH_SCAN_BLOCKS):
        counters[base : base + 3] = (0, 1, 1)
    return counters
