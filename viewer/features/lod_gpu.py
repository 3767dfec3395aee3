"""An LOD tree on the GPU: its merged nodes after the scene's Gaussians, and per-node rows.

The rows are what the cut and blend passes read (viewer/render/lod_cut.py, the LOD variant of
preprocess.comp).

Every row a node needs of its parent is copied into the node's own rows (the parent may sit in
another chunk of the scene's buffers, which a pass cannot reach):
    lod_cut        [M, 12]: bounding sphere (centre, radius); the parent's (radius -1 for the
                   root); number of children, level, 0, 0;
    lod_blend      [M, 12]: the parent's mean and the opacity blended towards (the parent's for
                   its heir, 0 for the other children: see lod_hierarchy's blend); the
                   parent's covariance (xx, xy, xz, yy, yz, zz); t (written by the cut every
                   frame); level + 256 x the parent's level (the level heat map);
    lod_parent_sh  [M, K * 3]: the parent's SH.
The root's "parent" is itself. Memory: 96 + 12 K bytes per node on top of the node itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from viewer.features.lod_hierarchy import LodHierarchy, covariances, heirs
from viewer.render.gpu_scene import GpuScene, RowBuffer
from viewer.render.layout import LOD_BLEND_FLOATS, LOD_CUT_FLOATS


def lod_rows(tree: LodHierarchy) -> dict[str, np.ndarray]:
    """The per-node rows of the LOD buffers ({name: [M, width] float32})."""
    m = tree.node_count
    parent = tree.parent_from_node.astype(np.int64)
    has_parent = parent >= 0
    p = np.where(has_parent, parent, np.arange(m))  # [M] the root is its own parent
    cut = np.zeros((m, LOD_CUT_FLOATS), np.float32)
    cut[:, 0:3] = tree.bound_centers
    cut[:, 3] = tree.bound_radii
    cut[:, 4:7] = tree.bound_centers[p]
    cut[:, 7] = np.where(has_parent, tree.bound_radii[p], -1.0)
    cut[:, 8] = tree.child_count
    cut[:, 9] = tree.level
    blend = np.zeros((m, LOD_BLEND_FLOATS), np.float32)
    blend[:, 0:3] = tree.means[p]
    blend[:, 3] = np.where(heirs(tree) | ~has_parent, tree.opacities[p], 0.0)
    cov = covariances(tree.scales, tree.rotations)[p]  # [M, 6] float64
    blend[:, 4:10] = cov
    blend[:, 11] = tree.level + 256.0 * tree.level[p]
    return {
        RowBuffer.LOD_CUT: cut,
        RowBuffer.LOD_BLEND: blend,
        RowBuffer.LOD_PARENT_SH: tree.sh[p].reshape(m, -1).astype(np.float32),
    }


def attach_hierarchy(gpu_scene: GpuScene, tree: LodHierarchy) -> None:
    """Upload the merged nodes of `tree` after the scene's Gaussians, and the LOD buffers.

    Frames with an LOD cut then draw the cut; others still draw the leaves only. Any LOD
    attached before is replaced.

    Raises:
        ValueError: when the GPU scene does not hold the tree's leaves (its count), or stores
            raw parameters (the tree is made of activated ones).
    """
    gpu_scene.drop_lod()
    n, m = tree.leaf_count, tree.node_count
    if gpu_scene.count != n:
        raise ValueError(f"the GPU scene holds {gpu_scene.count} Gaussians, the tree {n} leaves")
    if gpu_scene.raw:
        raise ValueError("level of detail needs a scene of activated parameters, not raw ones")
    if tree.sh.shape[1] != gpu_scene.sh_coeffs:
        raise ValueError("the tree's SH degree is not the GPU scene's")
    if m == n:
        return  # one Gaussian: nothing to merge
    gpu_scene.attach_lod(
        int(tree.level.max()),
        lod_rows(tree),
        means=tree.means[n:],
        scales=tree.scales[n:],
        rotations=tree.rotations[n:],
        opacities=tree.opacities[n:],
        sh=tree.sh[n:],
    )


def node_flags(tree: LodHierarchy, leaf_flags: np.ndarray) -> np.ndarray:
    """[M] uint32 flags of every node: a merged node has the bits all its children have.

    So a crop box or pruning that hides every Gaussian under a node hides the node too.

    Args:
        tree: the hierarchy.
        leaf_flags: [N] uint32 flags of the scene's Gaussians.
    """
    return _reduced_up(tree, np.asarray(leaf_flags, np.uint32), np.bitwise_and)


def node_levels(tree: LodHierarchy, leaf_levels: np.ndarray) -> np.ndarray:
    """[M] uint8 foveation levels of every node: a merged node keeps those any child keeps.

    Args:
        tree: the hierarchy.
        leaf_levels: [N] uint8 levels of the scene's Gaussians (viewer/features/foveation.py).
    """
    return _reduced_up(tree, np.asarray(leaf_levels, np.uint8), np.maximum)


def _reduced_up(tree: LodHierarchy, leaf_values: np.ndarray, reduce: np.ufunc) -> np.ndarray:
    """[M] values of every node, a merged node's `reduce` of its children's, level by level."""
    values = np.zeros(tree.node_count, leaf_values.dtype)
    values[: tree.leaf_count] = leaf_values
    for start, stop, slots, offsets in _merged_levels(tree):
        values[start:stop] = reduce.reduceat(values[slots], offsets)
    return values


def node_values(tree: LodHierarchy, leaf_values: np.ndarray) -> np.ndarray:
    """[M] float32 per-node values: a merged node gets the mean of its children's.

    For per-Gaussian values shown on merged nodes too (the heatmap mode's).

    Args:
        tree: the hierarchy.
        leaf_values: [N] values of the scene's Gaussians.
    """
    values = np.zeros(tree.node_count, np.float32)
    values[: tree.leaf_count] = leaf_values
    for start, stop, slots, offsets in _merged_levels(tree):
        sums = np.add.reduceat(values[slots].astype(np.float64), offsets)
        values[start:stop] = sums / tree.child_count[start:stop]
    return values


def _merged_levels(tree: LodHierarchy) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """The merged nodes level by level, finest first, for reductions over their children.

    Merged nodes are numbered level by level and each level's children lie below it, so a level
    can be reduced once the levels under it are.

    Yields:
        (start, stop, slots, offsets): the level's nodes [start, stop), their children's node
        indices [C] (each node's children contiguous) and where each node's children begin in
        `slots` [stop - start].
    """
    n, m = tree.leaf_count, tree.node_count
    if m == n:
        return
    bounds = np.flatnonzero(np.diff(tree.level[n:])) + 1
    starts = np.concatenate([[0], bounds]) + n
    stops = np.concatenate([bounds, [m - n]]) + n
    for start, stop in zip(starts.tolist(), stops.tolist(), strict=True):
        first = tree.first_child[start:stop]
        slots = tree.child_from_slot[first[0] : first[-1] + tree.child_count[stop - 1]]
        yield start, stop, slots, first - first[0]
