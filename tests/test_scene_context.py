"""Scene context geometry: frustums, axes, grid, points, near-plane clipping, the frustum hit
test."""

from __future__ import annotations

import numpy as np
import pytest

from viewer.camera import Camera
from viewer.scene_context import (
    axes_segments,
    frustum_points,
    frustum_segments,
    grid_segments,
    pick_frustum,
    project_points,
    project_segments,
)


def test_frustum_segments_start_at_the_camera_and_project_onto_its_image_corners():
    camera = Camera.look_at((1.0, -4.0, 2.0), (0.0, 0.0, 0.5), width=400, height=300)
    depth = 0.7
    segments = frustum_segments(camera, depth)
    assert segments.shape == (11, 2, 3)
    _, *corners = frustum_points(camera, depth)
    np.testing.assert_allclose(segments[:4, 0], np.tile(camera.position, (4, 1)))
    np.testing.assert_allclose(segments[:4, 1], corners)
    # the corners lie `depth` ahead of the camera and on its image's corners
    w2c = camera.world_to_camera
    in_camera = np.asarray(corners) @ w2c[:3, :3].T + w2c[:3, 3]
    np.testing.assert_allclose(in_camera[:, 2], depth)
    seen = camera.fx * in_camera[:, :2] / in_camera[:, 2:] + (camera.cx, camera.cy)
    np.testing.assert_allclose(seen, [(0, 0), (400, 0), (400, 300), (0, 300)], atol=1e-9)
    # the up marker lies above the top edge (negative image y as seen from the camera itself)
    tip = segments[8, 1] @ w2c[:3, :3].T + w2c[:3, 3]
    assert camera.fy * tip[1] / tip[2] + camera.cy < 0.0


def test_axes_run_from_the_origin_along_x_y_z():
    np.testing.assert_allclose(axes_segments(2.0)[:, 1], 2.0 * np.eye(3))
    np.testing.assert_allclose(axes_segments(2.0)[:, 0], 0.0)


@pytest.mark.parametrize(
    ("up", "axis", "level"),
    [((0.0, 0.0, 1.0), 2, -0.5), ((0.0, -1.0, 0.0), 1, 3.0), ((-1.0, 0.0, 0.0), 0, 2.0)],
)
def test_the_grid_lies_under_the_scene_perpendicular_to_up(up, axis, level):
    lo, hi = np.array([-1.0, -2.0, -0.5]), np.array([2.0, 3.0, 1.5])
    segments = grid_segments(lo, hi, np.array(up))
    assert len(segments) >= 8
    np.testing.assert_allclose(segments[..., axis], level)  # the lowest point along up
    others = [k for k in range(3) if k != axis]
    # each line runs along one of the other two world axes and the grid covers the box
    along = np.abs(segments[:, 1] - segments[:, 0]) > 0
    assert (along[:, others].sum(axis=1) == 1).all() and not along[:, axis].any()
    for k in others:
        assert segments[..., k].min() <= lo[k] and segments[..., k].max() >= hi[k]
        values = np.unique(segments[~along[:, k], 0, k])
        steps = np.diff(values)
        np.testing.assert_allclose(steps, steps[0])
        assert np.isclose(values / steps[0], np.round(values / steps[0])).all()  # round values


def test_a_segment_crossing_the_near_plane_is_cut_there_and_one_behind_it_dropped():
    camera = Camera(100, 100, 50.0, 50.0, 50.0, 50.0)  # at the origin, looking along +z
    near = 0.5
    segments = np.array(
        [
            [(1.0, 0.0, -1.0), (1.0, 0.0, 3.0)],  # crosses the near plane
            [(0.0, 1.0, 2.0), (0.0, 1.0, 4.0)],  # wholly in front
            [(0.0, 0.0, -2.0), (0.0, 0.0, 0.4)],  # wholly nearer than the plane
        ]
    )
    pixels, kept = project_segments(camera, segments, near)
    assert kept.tolist() == [0, 1]
    # the first keeps its far end, its near end is where x=1 meets z=near: 50 + 50 * 1 / 0.5
    np.testing.assert_allclose(pixels[0], [(150.0, 50.0), (50.0 + 50.0 / 3.0, 50.0)])
    np.testing.assert_allclose(pixels[1], [(50.0, 75.0), (50.0, 62.5)])
    # the order of a segment's ends does not matter
    flipped, _ = project_segments(camera, segments[:1, ::-1], near)
    np.testing.assert_allclose(flipped[0], pixels[0][::-1])


def test_a_click_picks_the_nearest_frustum_within_the_tolerance():
    view = Camera.look_at((0.0, 0.0, 10.0), (0.0, 0.0, 0.0), up=(0.0, 1.0, 0.0), width=640,
                          height=480)  # fmt: skip
    cameras = [
        Camera.look_at((x, 0.0, 0.0), (x, 5.0, 0.0), width=64, height=48) for x in (-2.0, 0.0, 0.3)
    ]
    depth, near = 0.2, 0.01

    def apex_pixel(camera):
        pixels, _ = project_segments(view, np.array([[camera.position, camera.position]]), near)
        return pixels[0, 0]

    first = apex_pixel(cameras[0])
    assert pick_frustum(view, cameras, depth, tuple(first + np.array([2.0, 1.0])), near, 5.0) == 0
    assert (
        pick_frustum(view, cameras, depth, tuple(first + np.array([30.0, 0.0])), near, 5.0) is None
    )
    # between two close frustums: the nearer one wins
    second, third = apex_pixel(cameras[1]), apex_pixel(cameras[2])
    assert 5.0 < np.linalg.norm(third - second) < 40.0
    nearer_third = second + 0.7 * (third - second)
    assert pick_frustum(view, cameras, depth, tuple(nearer_third), near, 40.0) == 2
    assert pick_frustum(view, cameras, depth, tuple(second + 0.2 * (third - second)), near,
                        40.0) == 1  # fmt: skip
    # a point on an image rectangle's edge hits too
    _, tl, tr, _, _ = frustum_points(cameras[0], depth)
    edge, _ = project_segments(view, np.array([[tl, tr]]), near)
    middle = edge[0].mean(axis=0)
    assert pick_frustum(view, cameras, depth, tuple(middle), near, 1.0) == 0


def test_a_frustum_behind_the_view_is_not_picked():
    view = Camera(100, 100, 50.0, 50.0, 50.0, 50.0)
    behind = Camera.look_at((0.0, 0.0, -3.0), (0.0, 0.0, -6.0), width=64, height=48)
    # its apex would project onto the image centre if it were not clipped away
    assert pick_frustum(view, [behind], 0.2, (50.0, 50.0), 0.1, 10.0) is None


def test_points_project_in_front_and_inside_the_image_once_per_cell():
    camera = Camera(100, 80, 50.0, 50.0, 50.0, 40.0)  # at the origin, looking along +z
    points = np.array(
        [
            (0.0, 0.0, 2.0),  # the image centre
            (0.001, 0.0, 2.0),  # in the same 2-pixel cell: drawn once
            (0.2, -0.4, 1.0),  # (60, 20)
            (0.0, 0.0, 0.05),  # nearer than the near plane
            (0.0, 0.0, -2.0),  # behind the camera
            (5.0, 0.0, 1.0),  # outside the image
        ]
    )
    pixels = project_points(camera, points, 0.1, 2.0)
    np.testing.assert_allclose(pixels, [(50.0, 40.0), (60.0, 20.0)])
    assert project_points(camera, points[3:5], 0.1, 2.0).shape == (0, 2)


def test_the_points_switch_draws_one_square_per_visible_point():
    """The overlay with a bare ImGui context (no window): 4 vertices per point in view."""
    from imgui_bundle import imgui

    from viewer.app.context_overlay import SceneFrame, draw_context
    from viewer.settings import DisplayOptions

    imgui.create_context()
    try:
        io = imgui.get_io()
        io.set_ini_filename(None)  # else ImGui writes imgui.ini into the working folder
        io.display_size = imgui.ImVec2(200, 100)
        io.backend_flags |= imgui.BackendFlags_.renderer_has_textures.value
        imgui.new_frame()
        view = Camera(200, 100, 100.0, 100.0, 100.0, 50.0)
        points = np.array([(0.0, 0.0, 2.0), (0.5, 0.2, 2.0), (0.0, 0.0, -2.0)])
        frame = SceneFrame(np.full(3, -1.0), np.ones(3), np.array([0.0, 0.0, 1.0]), [], points)
        draw = imgui.get_background_draw_list()
        start = draw.vtx_buffer.size()
        draw_context(DisplayOptions(points=False), frame, view, 0.1, (1.0, 1.0))
        assert draw.vtx_buffer.size() == start
        draw_context(DisplayOptions(points=True), frame, view, 0.1, (1.0, 1.0))
        assert draw.vtx_buffer.size() - start == 2 * 4  # the point behind the view is not drawn
        imgui.render()
    finally:
        imgui.destroy_context()
