"""LOD merge tree and the numpy reference cut: moment-matched merges against an independent
float64 reference, the tree's shape, the cut as a partition of the leaves, the budget, the blend,
and degenerate scenes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import random_scene, scene_path
from viewer.camera import Camera
from viewer.features.lod_hierarchy import (
    LodHierarchy,
    _eigen_columns,
    blend_nodes,
    blend_weights,
    budget_tau,
    build_hierarchy,
    heirs,
    projected_size,
    reference_cut,
)
from viewer.rotations import matrix_from_quaternion
from viewer.scene import GaussianScene

# -- helpers ------------------------------------------------------------------------------------


def scene_of(means, scales, opacities, rotations=None, sh=None, degree=1, seed=0) -> GaussianScene:
    """A scene from the given arrays; missing rotations/SH drawn at random."""
    rng = np.random.default_rng(seed)
    n = len(means)
    if rotations is None:
        rotations = rng.normal(size=(n, 4))
    if sh is None:
        sh = rng.normal(scale=0.4, size=(n, (degree + 1) ** 2, 3))
    return GaussianScene.from_arrays(means, scales, rotations, opacities, sh, source="test")


def cov64(scales: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """[n, 3, 3] float64 R diag(s^2) R^T through viewer.rotations (one quaternion at a time)."""
    rot = np.stack([matrix_from_quaternion(q) for q in rotations.astype(np.float64)])
    return rot @ (scales.astype(np.float64)[:, :, None] ** 2 * rot.transpose(0, 2, 1))


def camera_at(eye, target, width: int = 640, height: int = 480) -> Camera:
    return Camera.look_at(
        np.asarray(eye, float), np.asarray(target, float), (0, 0, 1), width, height
    )


def random_cameras(tree: LodHierarchy, rng: np.random.Generator, count: int) -> list[Camera]:
    """Cameras around and inside the scene, at 0.05 to 5 scene widths from its middle."""
    lo, hi = tree.means[: tree.leaf_count].min(0), tree.means[: tree.leaf_count].max(0)
    middle, width = (lo + hi) / 2, max(float((hi - lo).max()), 1e-3)
    cameras = []
    for _ in range(count):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        eye = middle + direction * width * np.exp(rng.uniform(np.log(0.05), np.log(5.0)))
        cameras.append(camera_at(eye, middle + rng.normal(scale=0.1 * width, size=3)))
    return cameras


def outside_camera(tree: LodHierarchy) -> Camera:
    """A camera outside the root's bounding sphere, looking at it."""
    centre = tree.bound_centers[tree.root].astype(np.float64)
    radius = float(tree.bound_radii[tree.root])
    return camera_at(centre + np.array([0.3, -1.0, 0.5]) * 2.0 * (radius + 1e-3), centre)


def drawn_per_leaf(tree: LodHierarchy, drawn: np.ndarray) -> np.ndarray:
    """[N] how many of each leaf's ancestors-or-self are drawn."""
    node = np.arange(tree.leaf_count)
    count = drawn[node].astype(int)
    parent = tree.parent_from_node
    while (node >= 0).any():
        node = np.where(node >= 0, parent[np.maximum(node, 0)], -1)
        count += np.where(node >= 0, drawn[np.maximum(node, 0)], False)
    return count


def check_tree(tree: LodHierarchy, scene: GaussianScene) -> None:
    """The tree's shape: leaves unchanged, one root last, CSR children, nested bounds."""
    n, m = scene.count, tree.node_count
    assert tree.leaf_count == n
    for name in ("means", "scales", "rotations", "opacities", "sh"):
        array = getattr(tree, name)
        assert array.dtype == np.float32 and len(array) == m
        np.testing.assert_array_equal(array[:n], getattr(scene, name), err_msg=name)
    parent = tree.parent_from_node
    assert parent.dtype == np.int32 and np.flatnonzero(parent < 0).tolist() == [m - 1]
    assert (parent[:-1] > np.arange(m - 1)).all()  # parents come after their children
    count = tree.child_count
    assert (count[:n] == 0).all() and (count[n:] >= 2).all()  # no single-child copies
    np.testing.assert_array_equal(np.bincount(parent[:-1], minlength=m), count)
    np.testing.assert_array_equal(tree.first_child, np.concatenate([[0], np.cumsum(count)[:-1]]))
    assert sorted(tree.child_from_slot.tolist()) == list(range(m - 1))
    for node in range(n, m):
        assert (parent[tree.children(node)] == node).all()
    assert (tree.level[:n] == 0).all() and (tree.level[parent[:-1]] > tree.level[:-1]).all()
    assert tree.level.max() <= len(tree.cell_sizes)
    # every node's sphere holds its own 3-sigma sphere and its children's (float32 values)
    centers, radii = tree.bound_centers.astype(np.float64), tree.bound_radii.astype(np.float64)
    own = np.linalg.norm(tree.means - centers, axis=1) + 3.0 * tree.scales.max(1)
    assert (own <= radii * (1 + 1e-6)).all()
    child = np.arange(m - 1)
    reach = np.linalg.norm(centers[child] - centers[parent[child]], axis=1) + radii[child]
    assert (reach <= radii[parent[child]]).all()


def check_merged(tree: LodHierarchy) -> None:
    """Merged nodes: positive definite covariances, opacities in [0, 1], unit quaternions."""
    n = tree.leaf_count
    assert np.isfinite(tree.means).all() and np.isfinite(tree.sh).all()
    assert ((tree.opacities >= 0) & (tree.opacities <= 1)).all()
    norms = np.linalg.norm(tree.rotations[n:].astype(np.float64), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-6)
    if tree.node_count > n:
        eigen = np.linalg.eigvalsh(cov64(tree.scales[n:], tree.rotations[n:]))
        assert (eigen > 0).all()
        assert (tree.scales[n:] > 0).all()
        rot = np.stack([matrix_from_quaternion(q) for q in tree.rotations[n:].astype(np.float64)])
        np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)


# -- merges -------------------------------------------------------------------------------------


@pytest.mark.parametrize("copies", [2, 3, 7])
def test_identical_children_merge_to_the_same_gaussian(copies):
    rotation = np.array([0.9, 0.1, -0.3, 0.2])
    scene = scene_of(
        np.tile([[0.3, -1.2, 2.0]], (copies, 1)),
        np.tile([[0.05, 0.02, 0.01]], (copies, 1)),
        np.full(copies, 0.4),
        rotations=np.tile(rotation, (copies, 1)),
        sh=np.tile(np.random.default_rng(1).normal(size=(1, 9, 3)), (copies, 1, 1)),
    )
    tree = build_hierarchy(scene)
    assert tree.node_count == copies + 1 and tree.children(copies).tolist() == list(range(copies))
    root = copies
    np.testing.assert_allclose(tree.means[root], scene.means[0], rtol=1e-6)
    np.testing.assert_allclose(
        cov64(tree.scales[root : root + 1], tree.rotations[root : root + 1])[0],
        cov64(scene.scales[:1], scene.rotations[:1])[0],
        rtol=1e-5,
        atol=1e-5 * 0.05**2,
    )
    np.testing.assert_allclose(tree.sh[root], scene.sh[0], rtol=1e-6, atol=1e-7)
    # opacity: what the coincident copies render as together (they stack on every ray)
    np.testing.assert_allclose(tree.opacities[root], 1 - (1 - 0.4) ** copies, rtol=1e-6)


def test_parents_match_a_float64_moment_reference():
    scene = random_scene(np.random.default_rng(2), 800, sh_degree=2)
    tree = build_hierarchy(scene)
    check_tree(tree, scene)
    extent = float(np.ptp(scene.means, axis=0).max())
    for node in range(scene.count, tree.node_count):
        kids = tree.children(node)
        scales = tree.scales[kids].astype(np.float64)
        opacity = tree.opacities[kids].astype(np.float64)
        surface = (
            scales[:, 0] * scales[:, 1] + scales[:, 0] * scales[:, 2] + scales[:, 1] * scales[:, 2]
        )
        weight = opacity * surface / (opacity * surface).sum()
        mean = weight @ tree.means[kids].astype(np.float64)
        offset = tree.means[kids].astype(np.float64) - mean
        sigma = np.einsum(
            "k,kij->ij",
            weight,
            cov64(tree.scales[kids], tree.rotations[kids])
            + offset[:, :, None] * offset[:, None, :],
        )
        np.testing.assert_allclose(tree.means[node], mean, atol=1e-6 * extent)
        stored = cov64(tree.scales[node : node + 1], tree.rotations[node : node + 1])[0]
        np.testing.assert_allclose(stored, sigma, atol=2e-6 * np.abs(sigma).max())
        sh = np.einsum("k,kcj->cj", weight, tree.sh[kids].astype(np.float64))
        np.testing.assert_allclose(tree.sh[node], sh, atol=1e-5)
        parent_scales = tree.scales[node].astype(np.float64)
        parent_surface = (
            parent_scales[0] * parent_scales[1]
            + parent_scales[0] * parent_scales[2]
            + parent_scales[1] * parent_scales[2]
        )
        expected = min((opacity * surface).sum() / parent_surface, 1 - np.prod(1 - opacity))
        np.testing.assert_allclose(tree.opacities[node], expected, rtol=1e-5)


def test_spread_out_children_keep_their_opacity_weighted_surface():
    """Side by side (no overlap) the parent's opacity is Hierarchical 3DGS's sum o_i A_i / A."""
    means = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    scene = scene_of(
        means, np.full((2, 3), 0.01), np.array([0.9, 0.5]), rotations=np.eye(4)[[0, 0]]
    )
    tree = build_hierarchy(scene)
    s = tree.scales[2].astype(np.float64)
    expected = (0.9 + 0.5) * 3 * 0.01**2 / (s[0] * s[1] + s[0] * s[2] + s[1] * s[2])
    assert expected < 1 - 0.1 * 0.5
    np.testing.assert_allclose(tree.opacities[2], expected, rtol=1e-5)


def test_merged_nodes_are_valid_gaussians_on_random_scenes():
    for seed, degree in [(3, 0), (4, 3)]:
        scene = random_scene(np.random.default_rng(seed), 3000, sh_degree=degree, spread=4.0)
        fractions = []
        tree = build_hierarchy(scene, progress=fractions.append)
        assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0
        check_tree(tree, scene)
        check_merged(tree)
        assert tree.root == tree.node_count - 1
        nodes = GaussianScene(tree.means, tree.scales, tree.rotations, tree.opacities, tree.sh)
        assert nodes.count == tree.node_count


def symmetric_eigen(cov6: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """([n, 3] eigenvalues, [n, 3, 3] rotations whose columns are the eigenvectors)."""
    values, columns = _eigen_columns(cov6)
    return values, np.stack([np.stack(column, 1) for column in columns], 2)


@pytest.mark.parametrize(
    "kind", ["random", "isotropic", "two_equal", "zero", "rank_one", "rank_two", "tiny_negative"]
)
def test_symmetric_eigen_reconstructs_with_right_handed_frames(kind):
    rng = np.random.default_rng(5)
    count = 400
    basis = np.stack([matrix_from_quaternion(q) for q in rng.normal(size=(count, 4))])
    values = {
        "random": np.exp(rng.normal(0, 2, (count, 3))),
        "isotropic": np.repeat(np.exp(rng.normal(0, 2, (count, 1))), 3, axis=1),
        "two_equal": np.exp(rng.normal(0, 2, (count, 3)))[:, [0, 0, 1]],
        "zero": np.zeros((count, 3)),
        "rank_one": np.c_[np.exp(rng.normal(0, 2, (count, 1))), np.zeros((count, 2))],
        "rank_two": np.c_[np.exp(rng.normal(0, 2, (count, 2))), np.zeros((count, 1))],
        "tiny_negative": np.c_[np.exp(rng.normal(0, 2, (count, 2))), -1e-12 * np.ones((count, 1))],
    }[kind]
    matrices = basis @ (values[:, :, None] * basis.transpose(0, 2, 1))
    cov6 = matrices.reshape(count, 9)[:, [0, 1, 2, 4, 5, 8]]
    eigenvalues, frames = symmetric_eigen(cov6)
    np.testing.assert_allclose(np.linalg.det(frames), 1.0, atol=1e-9)
    np.testing.assert_allclose(
        frames.transpose(0, 2, 1) @ frames, np.eye(3)[None].repeat(count, 0), atol=1e-9
    )
    rebuilt = frames @ (eigenvalues[:, :, None] * frames.transpose(0, 2, 1))
    scale = np.abs(matrices).reshape(count, -1).max(1)[:, None, None] + 1e-300
    np.testing.assert_allclose(rebuilt / scale, matrices / scale, atol=1e-9)
    np.testing.assert_allclose(
        np.sort(eigenvalues, 1) / scale[:, 0], np.linalg.eigvalsh(matrices) / scale[:, 0], atol=1e-9
    )


# -- the tree on real and degenerate scenes -----------------------------------------------------


def test_donut_tree():
    from viewer.formats import load_scene

    scene = load_scene(scene_path("donut.ply"))
    fractions = []
    tree = build_hierarchy(scene, progress=fractions.append)
    check_tree(tree, scene)
    check_merged(tree)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] >= 0
    assert tree.node_count < 2 * scene.count
    camera = Camera(
        640, 480, 320.0, 320.0, 320.0, 240.0,
        np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0.3], [0, 0, 0, 1.0]]),
    )  # fmt: skip
    counts = [int(reference_cut(tree, camera, tau).sum()) for tau in (1e-9, 1, 4, 16, 64, 1e9)]
    assert counts[0] == scene.count and counts[-1] == 1 and counts == sorted(counts, reverse=True)
    for tau in (1, 4, 16):
        assert (drawn_per_leaf(tree, reference_cut(tree, camera, tau)) == 1).all()


def degenerate_scene(name: str, rng: np.random.Generator) -> GaussianScene:
    if name == "one point":
        return scene_of(
            np.zeros((50, 3)), np.exp(rng.normal(-3, 1, (50, 3))), rng.uniform(0, 1, 50)
        )
    if name == "one point, zero scales":
        return scene_of(np.ones((20, 3)), np.zeros((20, 3)), np.full(20, 0.5))
    if name == "one gaussian":
        return scene_of(np.zeros((1, 3)), np.full((1, 3), 0.1), np.array([0.7]))
    if name == "flat splats":
        scales = np.c_[np.exp(rng.normal(-3, 0.5, (300, 2))), np.zeros(300)]
        return scene_of(rng.normal(size=(300, 3)), scales, rng.uniform(0, 1, 300))
    if name == "zero opacity":
        return scene_of(rng.normal(size=(100, 3)), np.full((100, 3), 0.05), np.zeros(100))
    if name == "two far apart":
        means = np.array([[0, 0, 0], [1e6, 3e5, -2e5]])
        return scene_of(means, np.full((2, 3), 1e-3), np.array([0.5, 0.9]))
    assert name == "far from the origin"
    return scene_of(
        1e4 + rng.normal(size=(200, 3)), np.full((200, 3), 0.02), rng.uniform(0, 1, 200)
    )


DEGENERATE = [
    "one point",
    "one point, zero scales",
    "one gaussian",
    "flat splats",
    "zero opacity",
    "two far apart",
    "far from the origin",
]


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_scenes_build_valid_trees(name):
    scene = degenerate_scene(name, np.random.default_rng(6))
    tree = build_hierarchy(scene)
    check_tree(tree, scene)
    check_merged(tree)
    camera = outside_camera(tree)
    assert (reference_cut(tree, camera, 0.0) == (np.arange(tree.node_count) < scene.count)).all()
    for tau in (0.0, 1e-3, 1.0, 1e3, 1e30):
        assert (drawn_per_leaf(tree, reference_cut(tree, camera, tau)) == 1).all()
    assert reference_cut(tree, camera, np.inf).tolist() == [
        i == tree.root for i in range(tree.node_count)
    ]


def test_grid_ratio_must_exceed_one():
    with pytest.raises(ValueError, match="grid_ratio"):
        build_hierarchy(random_scene(np.random.default_rng(0), 10), grid_ratio=1.0)


# -- the cut ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tree_and_scene():
    scene = random_scene(np.random.default_rng(7), 2500, sh_degree=1, spread=3.0)
    return build_hierarchy(scene), scene


def test_sizes_grow_towards_the_root(tree_and_scene):
    tree, _ = tree_and_scene
    child = np.arange(tree.node_count - 1)
    for camera in random_cameras(tree, np.random.default_rng(8), 30):
        sizes = projected_size(tree, camera)
        assert (sizes[tree.parent_from_node[child]] >= sizes[child]).all()


def test_tiny_tau_draws_exactly_the_leaves_and_a_huge_one_the_root(tree_and_scene):
    tree, scene = tree_and_scene
    leaves = np.arange(tree.node_count) < scene.count
    for camera in random_cameras(tree, np.random.default_rng(9), 10):
        np.testing.assert_array_equal(reference_cut(tree, camera, 1e-9), leaves)
    root_only = np.arange(tree.node_count) == tree.root
    np.testing.assert_array_equal(reference_cut(tree, outside_camera(tree), 1e12), root_only)


def test_cut_is_a_partition_whose_count_never_grows_with_tau(tree_and_scene):
    tree, _ = tree_and_scene
    taus = np.geomspace(1e-3, 1e5, 60)
    for camera in random_cameras(tree, np.random.default_rng(10), 12):
        counts = []
        for tau in taus:
            drawn = reference_cut(tree, camera, tau)
            assert (drawn_per_leaf(tree, drawn) == 1).all()
            counts.append(int(drawn.sum()))
        assert counts == sorted(counts, reverse=True)
        assert counts[0] > counts[-1]


def test_a_node_holding_the_camera_is_never_drawn(tree_and_scene):
    tree, scene = tree_and_scene
    rng = np.random.default_rng(11)
    for node in rng.choice(np.arange(scene.count, tree.node_count), 25, replace=False):
        eye = tree.bound_centers[node] + rng.normal(size=3) * 0.3 * tree.bound_radii[
            node
        ] / np.sqrt(3)
        camera = camera_at(eye, eye + rng.normal(size=3))
        inside = np.linalg.norm(tree.bound_centers - eye, axis=1) < tree.bound_radii * (1 - 1e-6)
        assert inside[node] and np.isinf(projected_size(tree, camera)[inside]).all()
        for tau in (1e-3, 1.0, 1e3, 1e30):
            drawn = reference_cut(tree, camera, tau)
            assert not drawn[inside & (tree.child_count > 0)].any()
            assert (drawn_per_leaf(tree, drawn) == 1).all()


def test_budget_tau_is_the_smallest_within_budget(tree_and_scene):
    tree, scene = tree_and_scene
    cameras = [outside_camera(tree), *random_cameras(tree, np.random.default_rng(12), 6)]
    for camera in cameras:
        sizes = projected_size(tree, camera)
        forced = 1 + (tree.child_count - 1)[np.isinf(sizes) & (tree.child_count > 0)].sum()
        for budget in (1, 2, 10, 100, 777, scene.count - 1, scene.count, 10 * scene.count):
            tau, drawn = budget_tau(tree, camera, budget)
            np.testing.assert_array_equal(drawn, reference_cut(tree, camera, tau))
            if budget >= scene.count:
                assert tau == 0.0 and drawn.sum() == scene.count
                continue
            if forced > budget:  # the nodes holding the camera alone need more
                assert drawn.sum() == forced
                continue
            assert drawn.sum() <= budget
            smaller = np.nextafter(tau, -np.inf)
            assert reference_cut(tree, camera, smaller).sum() > budget
    with pytest.raises(ValueError, match="budget"):
        budget_tau(tree, cameras[0], 0)


# -- the blend ----------------------------------------------------------------------------------


def blended_covariance(scene: GaussianScene) -> np.ndarray:
    return cov64(scene.scales, scene.rotations)


def test_blend_ends_are_the_node_and_its_parent(tree_and_scene):
    tree, scene = tree_and_scene
    ids = np.arange(tree.node_count - 1)
    parent = tree.parent_from_node[ids]
    at_node = blend_nodes(tree, ids, np.zeros(len(ids)))
    at_parent = blend_nodes(tree, ids, np.ones(len(ids)))
    np.testing.assert_array_equal(at_node.means, tree.means[ids])
    np.testing.assert_array_equal(at_node.sh, tree.sh[ids])
    np.testing.assert_allclose(at_node.opacities, tree.opacities[ids], rtol=1e-6)
    own = cov64(tree.scales[ids], tree.rotations[ids])
    scale = np.abs(own).reshape(len(ids), -1).max(1)[:, None, None]
    np.testing.assert_allclose(blended_covariance(at_node) / scale, own / scale, atol=2e-6)
    np.testing.assert_allclose(at_parent.means, tree.means[parent], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(at_parent.sh, tree.sh[parent], rtol=1e-6, atol=1e-6)
    theirs = cov64(tree.scales[parent], tree.rotations[parent])
    scale = np.abs(theirs).reshape(len(ids), -1).max(1)[:, None, None]
    np.testing.assert_allclose(blended_covariance(at_parent) / scale, theirs / scale, atol=2e-6)
    # at t = 1 the heir is its parent, its siblings have faded out
    heir = heirs(tree)[ids]
    np.testing.assert_allclose(at_parent.opacities[heir], tree.opacities[parent][heir], rtol=1e-6)
    assert (at_parent.opacities[~heir] == 0).all()
    merged = np.arange(scene.count, tree.node_count)
    assert (np.bincount(parent[heir], minlength=tree.node_count)[merged] == 1).all()
    for node in merged[:200]:  # the heir carries the most weight o (s0 s1 + s0 s2 + s1 s2)
        kids = tree.children(node)
        s = tree.scales[kids].astype(np.float64)
        weight = tree.opacities[kids] * (s[:, 0] * s[:, 1] + s[:, 0] * s[:, 2] + s[:, 1] * s[:, 2])
        assert kids[np.argmax(weight)] == kids[heirs(tree)[kids]][0]
    # the root blends with itself
    root = blend_nodes(tree, np.array([tree.root]), np.array([1.0]))
    np.testing.assert_allclose(root.opacities, tree.opacities[[tree.root]], rtol=1e-6)


def test_blend_weights_meet_the_cut_switch(tree_and_scene):
    """At tau = size(parent) each drawn child looks like its parent (t = 1); just above it the
    parent itself is drawn with t = 0: no pop when the cut changes."""
    tree, _ = tree_and_scene
    for camera in random_cameras(tree, np.random.default_rng(13), 6):
        sizes = projected_size(tree, camera)
        for tau in (0.5, 3.0, 20.0):
            drawn = reference_cut(tree, camera, tau)
            t = blend_weights(tree, camera, tau)
            assert ((t >= 0) & (t <= 1)).all() and (t[~drawn] == 0).all()
            parents = np.unique(tree.parent_from_node[drawn & (tree.parent_from_node >= 0)])
            for p in parents[np.isfinite(sizes[parents])][:20]:
                kids = tree.children(p)
                at_switch = blend_weights(tree, camera, sizes[p])
                shown = reference_cut(tree, camera, sizes[p])[kids]
                np.testing.assert_allclose(at_switch[kids][shown], 1.0)
                above = np.nextafter(sizes[p], np.inf)
                assert reference_cut(tree, camera, above)[p]
                assert blend_weights(tree, camera, above)[p] < 1e-9


def test_blend_is_continuous_in_tau(tree_and_scene):
    tree, scene = tree_and_scene
    extent = float(np.ptp(scene.means, axis=0).max())
    for camera in random_cameras(tree, np.random.default_rng(14), 6):
        for tau in (0.7, 5.0, 40.0):
            step = tau * 1e-7
            drawn = reference_cut(tree, camera, tau) & reference_cut(tree, camera, tau + step)
            ids = np.flatnonzero(drawn)
            t0 = blend_weights(tree, camera, tau)[ids]
            t1 = blend_weights(tree, camera, tau + step)[ids]
            assert np.abs(t1 - t0).max(initial=0) < 1e-4
            a, b = blend_nodes(tree, ids, t0), blend_nodes(tree, ids, t1)
            assert np.abs(a.means - b.means).max(initial=0) < 1e-4 * extent
            assert np.abs(a.opacities - b.opacities).max(initial=0) < 1e-4
            assert np.abs(a.sh - b.sh).max(initial=0) < 1e-4
            ca, cb = blended_covariance(a), blended_covariance(b)
            scale = np.abs(ca).reshape(len(ids), -1).max(1)[:, None, None] if len(ids) else 1.0
            assert np.abs((ca - cb) / scale).max(initial=0) < 1e-4


def test_blend_width_one_switches_hard(tree_and_scene):
    tree, _ = tree_and_scene
    camera = random_cameras(tree, np.random.default_rng(15), 1)[0]
    assert (blend_weights(tree, camera, 3.0, width=1.0) == 0).all()
    with pytest.raises(ValueError, match="width"):
        blend_weights(tree, camera, 3.0, width=0.5)
