"""The LOD cut on the GPU (lod_cut.comp, the LOD variant of preprocess.comp) against the numpy
reference of viewer/features/lod_hierarchy.py: the cut, the budget, the blend weights, the images
at the ends of tau, continuity across a switch, render scale, the level heat map, flags."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_scene
from tests.gpu_readback import read_cut_stats
from tests.test_lod_hierarchy import camera_at, drawn_per_leaf, outside_camera, random_cameras
from viewer.features.lod_gpu import attach_hierarchy, node_flags
from viewer.features.lod_hierarchy import (
    blend_weights,
    build_hierarchy,
    projected_size,
    reference_cut,
)
from viewer.image_metrics import psnr
from viewer.render.frame_inputs import FrameInputs, LodCut, scaled_camera
from viewer.render.gpu_scene import GpuScene
from viewer.render.layout import FLAG_HIDDEN, FLAG_LOD_CULLED, FLAG_PRUNED, FLAG_SELECTED
from viewer.render.lod_cut import bin_edge
from viewer.render.renderer import SplatRenderer
from viewer.settings import RasterSettings, RenderSettings

TIE = 1e-4  # relative distance to tau within which float32 and float64 may decide apart


@pytest.fixture(scope="module")
def lod(gl_ctx):
    """(tree, scene, gpu scene with the tree attached, renderer)."""
    scene = random_scene(np.random.default_rng(21), 3000, sh_degree=1, spread=3.0)
    tree = build_hierarchy(scene)
    gpu = GpuScene.from_scene(gl_ctx, scene)
    attach_hierarchy(gpu, tree)
    renderer = SplatRenderer(gl_ctx, RasterSettings(validate=True))
    yield tree, scene, gpu, renderer
    renderer.release()
    gpu.release()


def small(camera):
    return scaled_camera(camera, 0.25)  # 160 x 120: the cut depends on the focal, not the size


def gpu_cut(lod, camera, cut: LodCut) -> tuple[np.ndarray, np.ndarray]:
    """([M] drawn, [M] t) as the GPU decided them for one frame."""
    _, _, gpu, renderer = lod
    renderer.render_image(gpu, FrameInputs(camera, lod=cut), RenderSettings())
    drawn = (gpu.read("gpu_flags") & FLAG_LOD_CULLED) == 0
    return drawn, gpu.read("lod_blend")[:, 10]


def near_ties(tree, camera, tau: float) -> np.ndarray:
    """[M] nodes whose own or parent's size lies within TIE of tau."""
    sizes = projected_size(tree, camera)
    close = np.abs(sizes - tau) <= TIE * tau
    parent = tree.parent_from_node
    return close | np.where(parent >= 0, close[np.maximum(parent, 0)], False)


def test_attach_keeps_leaf_frames_and_counts(lod, gl_ctx):
    tree, scene, gpu, renderer = lod
    assert (gpu.leaves, gpu.lod_nodes, gpu.count) == (scene.count, tree.node_count - scene.count,
                                                      tree.node_count)  # fmt: skip
    camera = small(outside_camera(tree))
    plain = GpuScene.from_scene(gl_ctx, scene)
    try:
        expected = renderer.render_image(plain, FrameInputs(camera), RenderSettings())
    finally:
        plain.release()
    # frames without a cut draw the leaves, also after a cut left FLAG_LOD_CULLED behind
    renderer.render_image(gpu, FrameInputs(camera, lod=LodCut(tau=50.0)), RenderSettings())
    image = renderer.render_image(gpu, FrameInputs(camera), RenderSettings())
    np.testing.assert_allclose(image, expected, atol=1e-5)
    # pruning scores measure the leaves only
    measured = renderer.measure(gpu, FrameInputs(camera, flag_mask=0), RenderSettings(),
                                weights=True)  # fmt: skip
    assert measured.weights is not None and measured.weights.shape == (scene.count,)


def test_gpu_cut_and_blend_equal_the_reference_on_random_cameras(lod):
    tree, _, _, _ = lod
    for camera in random_cameras(tree, np.random.default_rng(22), 8):
        camera = small(camera)
        for tau in (0.5, 2.0, 8.0, 30.0):
            drawn, t = gpu_cut(lod, camera, LodCut(tau=tau))
            expected = reference_cut(tree, camera, tau)
            ties = near_ties(tree, camera, tau)
            assert not (drawn != expected)[~ties].any(), f"tau {tau}"
            both = drawn & expected & ~ties
            np.testing.assert_allclose(t[both], blend_weights(tree, camera, tau)[both], atol=2e-4)
            assert (t[~drawn] >= 0).all() and (t <= 1).all()


def test_tiny_tau_draws_exactly_the_leaves_and_the_no_lod_image(lod):
    tree, scene, gpu, renderer = lod
    for camera in random_cameras(tree, np.random.default_rng(23), 3):
        camera = small(camera)
        plain = renderer.render_image(gpu, FrameInputs(camera), RenderSettings())
        image = renderer.render_image(gpu, FrameInputs(camera, lod=LodCut(tau=1e-9)),
                                      RenderSettings())  # fmt: skip
        drawn = (gpu.read("gpu_flags") & FLAG_LOD_CULLED) == 0
        np.testing.assert_array_equal(drawn, np.arange(tree.node_count) < scene.count)
        assert (gpu.read("lod_blend")[:, 10] == 0).all()
        np.testing.assert_allclose(image, plain, atol=1e-5)


def test_huge_tau_draws_the_root(lod):
    tree, _, _, renderer = lod
    drawn, t = gpu_cut(lod, small(outside_camera(tree)), LodCut(tau=1e12))
    assert np.flatnonzero(drawn).tolist() == [tree.root] and t[tree.root] == 0
    assert read_cut_stats(renderer.lod_cut).drawn == 1


def test_drawn_count_never_grows_with_tau_and_the_cut_is_a_partition(lod):
    tree, _, _, renderer = lod
    for camera in random_cameras(tree, np.random.default_rng(24), 3):
        camera = small(camera)
        counts = []
        for tau in np.geomspace(0.3, 3000.0, 12):
            drawn, _ = gpu_cut(lod, camera, LodCut(tau=float(tau)))
            assert (drawn_per_leaf(tree, drawn) == 1).all()
            state = read_cut_stats(renderer.lod_cut)
            assert state.drawn == drawn.sum() == sum(state.levels)
            np.testing.assert_array_equal(state.levels, np.bincount(tree.level[drawn]))
            counts.append(int(drawn.sum()))
        assert counts == sorted(counts, reverse=True) and counts[0] > counts[-1]


def test_budget_is_respected_by_the_smallest_bin_edge_that_fits(lod):
    tree, scene, _, renderer = lod
    cameras = [outside_camera(tree), *random_cameras(tree, np.random.default_rng(25), 3)]
    for camera in map(small, cameras):
        sizes = projected_size(tree, camera)
        forced = 1 + (tree.child_count - 1)[np.isinf(sizes) & (tree.child_count > 0)].sum()
        for budget in (1, 50, 400, 1500, scene.count - 1, scene.count, 10 * scene.count):
            drawn, _ = gpu_cut(lod, camera, LodCut(budget=budget))
            state = read_cut_stats(renderer.lod_cut)
            assert state.drawn == drawn.sum() == state.budget_count
            assert (drawn_per_leaf(tree, drawn) == 1).all()
            if forced > budget:  # the nodes holding the camera alone need more
                assert drawn.sum() == forced
                continue
            assert drawn.sum() <= budget
            ties = near_ties(tree, camera, state.tau)
            expected = reference_cut(tree, camera, state.tau)
            assert not (drawn != expected)[~ties].any()
            if budget >= scene.count:
                assert drawn.sum() == scene.count
            else:  # one bin finer would not fit
                index = int(np.floor((np.log2(state.tau) + 24) * 32 + 0.5))
                assert bin_edge(index) == pytest.approx(state.tau, rel=1e-6)
                finer = bin_edge(index - 1) * (1 + 2 * TIE)
                assert reference_cut(tree, camera, finer).sum() > budget


def test_blend_is_continuous_across_a_switch(lod):
    """Where a parent replaces its children (tau crossing its size) the image barely changes
    with blending (the heir has become the parent, its siblings have faded out), and visibly
    without (popping)."""
    tree, _, gpu, renderer = lod
    camera = small(outside_camera(tree))
    sizes = projected_size(tree, camera)
    inner = np.flatnonzero((tree.child_count > 0) & np.isfinite(sizes))
    mid = inner[(sizes[inner] > 2.0) & (sizes[inner] < 20.0)]
    switches = mid[np.argsort(-tree.child_count[mid], kind="stable")][:10]  # the busiest ones
    jumps = {2.0: [], 1.0: []}
    for node in switches:
        for width, found in jumps.items():
            below, above = (
                renderer.render_image(gpu, FrameInputs(camera, lod=cut), RenderSettings())
                for cut in (
                    LodCut(sizes[node] * f, blend_width=width) for f in (1 - 1e-5, 1 + 1e-5)
                )
            )
            found.append(float(np.abs(above - below).max()))
    assert max(jumps[2.0]) < 0.01 and sum(jumps[2.0]) < 0.2 * sum(jumps[1.0]), jumps


def test_render_scale_stretches_a_smaller_image(lod):
    tree, _, gpu, renderer = lod
    camera = scaled_camera(outside_camera(tree), 0.5)
    full = renderer.render_image(gpu, FrameInputs(camera), RenderSettings())
    same = renderer.render_image(gpu, FrameInputs(camera, render_scale=1.0), RenderSettings())
    np.testing.assert_array_equal(same, full)
    half = renderer.render_image(gpu, FrameInputs(camera, render_scale=0.5), RenderSettings())
    assert half.shape == full.shape and 22.0 < psnr(half, full) < 80.0
    stats = renderer.render(gpu, FrameInputs(camera, render_scale=0.5), RenderSettings(),
                            renderer.image.framebuffer)  # fmt: skip
    assert stats is None or stats.render_scale == 0.5


def test_level_heat_map(lod):
    tree, _, gpu, renderer = lod
    camera = small(outside_camera(tree))
    settings = RenderSettings(mode="heatmap", heatmap="lod_level")
    leaves = renderer.render_image(gpu, FrameInputs(camera), settings)
    coarse = renderer.render_image(gpu, FrameInputs(camera, lod=LodCut(tau=40.0)), settings)
    # the cold end of the colour scale is blue; merged nodes are warmer (redder)
    lit = leaves.sum(2) > 0.05
    assert (leaves[lit][:, 2] >= leaves[lit][:, 0]).mean() > 0.9
    assert coarse[..., 0].sum() > 2 * leaves[..., 0].sum()


def test_tiles_backend_draws_the_cut(lod, gl_ctx):
    tree, _, gpu, quads = lod
    camera = small(outside_camera(tree))
    tiles = SplatRenderer(gl_ctx, RasterSettings(backend="tiles", validate=True))
    try:
        for cut in (LodCut(tau=1e-9), LodCut(tau=10.0), LodCut(budget=300)):
            a = quads.render_image(gpu, FrameInputs(camera, lod=cut), RenderSettings())
            b = tiles.render_image(gpu, FrameInputs(camera, lod=cut), RenderSettings())
            assert psnr(a, b) > 40.0
    finally:
        tiles.release()


def test_node_flags_hide_a_node_only_when_all_its_children_are():
    scene = random_scene(np.random.default_rng(26), 800, sh_degree=0, spread=2.0)
    tree = build_hierarchy(scene)
    rng = np.random.default_rng(27)
    leaf = rng.choice([0, FLAG_HIDDEN, FLAG_PRUNED, FLAG_HIDDEN | FLAG_SELECTED], scene.count)
    flags = node_flags(tree, leaf.astype(np.uint32))
    np.testing.assert_array_equal(flags[: scene.count], leaf)
    for node in range(scene.count, tree.node_count):
        expected = np.bitwise_and.reduce(flags[tree.children(node)])
        assert flags[node] == expected
    everything = node_flags(tree, np.full(scene.count, FLAG_HIDDEN, np.uint32))
    assert (everything == FLAG_HIDDEN).all()


def test_attach_refuses_what_it_cannot_cut(gl_ctx):
    scene = random_scene(np.random.default_rng(28), 50, sh_degree=0)
    tree = build_hierarchy(scene)
    gpu = GpuScene.from_scene(gl_ctx, random_scene(np.random.default_rng(28), 40, sh_degree=0))
    try:
        with pytest.raises(ValueError, match="40 Gaussians"):
            attach_hierarchy(gpu, tree)
    finally:
        gpu.release()
    gpu = GpuScene.from_scene(gl_ctx, scene)
    try:
        attach_hierarchy(gpu, tree)
        gpu.set_sh_degree(1)  # SH copies of the old width: the LOD goes
        assert gpu.lod_nodes == 0 and gpu.count == scene.count and gpu.lod is None
    finally:
        gpu.release()


def test_camera_inside_a_node_expands_it(lod):
    tree, scene, _, _ = lod
    rng = np.random.default_rng(29)
    node = int(rng.choice(np.arange(scene.count, tree.node_count)))
    eye = tree.bound_centers[node].astype(np.float64)
    camera = small(camera_at(eye, eye + np.array([1.0, 0.3, 0.2])))
    drawn, _ = gpu_cut(lod, camera, LodCut(tau=1e30))
    assert not drawn[node] and (drawn_per_leaf(tree, drawn) == 1).all()


def test_both_ways_of_counting_the_levels_agree(lod, gl_ctx):
    from viewer.render.lod_cut import LodCutPass

    tree, _, gpu, _ = lod
    camera = small(random_cameras(tree, np.random.default_rng(30), 1)[0])
    states, flags = [], []
    for shared in (True, False):
        cut = LodCutPass(gl_ctx, shared_counts=shared)
        try:
            cut.run(gpu, camera, LodCut(budget=700))
            states.append(read_cut_stats(cut))
            flags.append(gpu.read("gpu_flags"))
        finally:
            cut.release()
    assert states[0] == states[1] and states[0].drawn > 0
    np.testing.assert_array_equal(flags[0], flags[1])
