"""The software face renderer: rasterizing, the face box, crops, the default head and its identities."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from backend.facecrop import crop_faces
from backend.facemesh import camera_target, default_head_mesh
from backend.facerender import (CROP_SIZE, Camera, CropBox, FaceRenderer, face_box, look_at_camera, rasterize,
                                rasterize_numpy, vertex_normals)
from backend.headmodel import load as load_head_model
from backend.rig import FACEWAREHOUSE_46


@pytest.mark.parametrize("rasterize", [rasterize, rasterize_numpy])
def test_rasterize_covers_pixel_centres_and_keeps_the_nearest(rasterize):
    # a big triangle far away and a small one in front of its middle
    xy = np.array([[[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [1.0, 1.0], [3.0, 1.0], [1.0, 3.0]]], dtype=np.float32)
    depth = np.array([[5.0, 5.0, 5.0, 1.0, 1.0, 1.0]], dtype=np.float32)
    triangles = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.int32)
    owner, bary = rasterize(xy, depth, triangles, 8, 8)
    assert owner.shape == (1, 8, 8) and bary.shape == (1, 8, 8, 3)
    # pixel (x, y) is covered when its centre (x + .5, y + .5) is inside: x + y + 1 <= 8 for the big one
    ys, xs = np.mgrid[0:8, 0:8]
    assert np.array_equal(owner[0] >= 0, xs + ys + 1 <= 8)
    assert owner[0, 1, 1] == 1 and owner[0, 0, 0] == 0  # the near triangle wins where both cover
    np.testing.assert_allclose(bary[0].sum(axis=-1)[owner[0] >= 0], 1.0, atol=1e-5)


@pytest.mark.parametrize("rasterize", [rasterize, rasterize_numpy])
def test_rasterize_draws_large_triangles_whole(rasterize):
    xy = np.array([[[-10.0, -10.0], [300.0, -10.0], [-10.0, 300.0]]], dtype=np.float32)
    owner, _ = rasterize(xy, np.ones((1, 3), np.float32), np.array([[0, 1, 2]], np.int32), 48, 96)
    assert (owner == 0).all()


def test_vertex_normals_of_a_flat_square_face_the_same_way():
    square = np.array([[[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]], dtype=np.float32)
    normals = vertex_normals(square, np.array([[0, 1, 2], [0, 2, 3]], dtype=np.int32))
    np.testing.assert_allclose(normals[0], np.tile([0.0, 0.0, 1.0], (4, 1)), atol=1e-6)


def test_face_box_spans_jaw_and_brows_with_the_chin_padded():
    landmarks = np.zeros((68, 2))
    landmarks[:27] = np.stack([np.linspace(10, 110, 27), np.linspace(20, 120, 27)], axis=1)
    landmarks[27:] = 60.0
    box = face_box(landmarks)
    assert (box.x0, box.y0, box.x1) == (10.0, 20.0, 110.0)
    assert box.y1 == pytest.approx(120.0 + 0.1 * 100.0)
    assert box.shape == (48, 96)


def test_crop_faces_resamples_the_box_to_96_columns():
    frames = np.zeros((2, 200, 300, 3), dtype=np.uint8)
    frames[:, 100:200, 50:150] = 200  # the box's lower half is bright
    frames[1, 150:200, 50:150] = 100
    crop = crop_faces(frames, CropBox(50.0, 0.0, 150.0, 200.0))
    assert crop.shape == (2, 48, CROP_SIZE, 3) and crop.dtype == np.uint8
    assert (crop[0] == 200).all()
    assert abs(int(crop[1, -1, 40, 0]) - 100) <= 1 and abs(int(crop[1, 0, 40, 0]) - 200) <= 1


def test_look_at_camera_reproduces_the_default_head_camera():
    head = load_head_model()
    location = -head.world_to_camera[:3, :3].T @ head.world_to_camera[:3, 3]
    camera = look_at_camera(location, camera_target(), head.intrinsics)
    np.testing.assert_allclose(camera.world_to_camera, head.world_to_camera, atol=1e-6)


@pytest.fixture(scope="module")
def default_renderer():
    head = load_head_model()
    return FaceRenderer(default_head_mesh(), Camera(head.world_to_camera, head.intrinsics))


def weights(**values) -> np.ndarray:
    row = np.zeros((1, 46), dtype=np.float32)
    for name, value in values.items():
        row[0, FACEWAREHOUSE_46.index(name)] = value
    return row


def test_default_head_mouth_opens_dark_and_shows_its_lips(default_renderer):
    closed, opened = default_renderer.render(np.concatenate([weights(), weights(JawOpen=1.0)]))
    assert closed.shape == (48, 96, 3) and closed.dtype == np.uint8
    dark = lambda image: int((image.astype(int).sum(axis=-1) < 120).sum())  # noqa: E731
    assert dark(opened) > dark(closed) + 15  # the mouth inside shows
    reddish = (closed[..., 0].astype(int) - closed[..., 2].astype(int)) > 60
    assert reddish[:, 30:66].sum() > 50  # lips, in the middle of the crop
    background = np.round(255 * 1.055 * np.power(0.05, 1 / 2.4) - 0.055 * 255)
    assert abs(int(closed[-1, 0, 0]) - background) <= 2  # beside the neck: background


def test_render_is_deterministic_and_identities_differ(default_renderer):
    take = np.concatenate([weights(JawOpen=0.4), weights(MouthSmile_L=1.0)])
    np.testing.assert_array_equal(default_renderer.render(take), default_renderer.render(take))
    other = FaceRenderer(default_head_mesh(3), default_renderer.camera).render(take)
    assert np.abs(other.astype(int) - default_renderer.render(take).astype(int)).mean() > 5


def test_identity_meshes_keep_the_46_keys_and_68_landmarks():
    for identity in (0, 2, 7):
        mesh = default_head_mesh(identity)
        assert mesh.channels == tuple(FACEWAREHOUSE_46) and mesh.deltas.shape[:2] == (46, len(mesh.positions))
        assert len(set(mesh.landmark_indices.tolist())) == 68
        lips = mesh.landmarks(weights(JawOpen=1.0))[0, [62, 66]]
        rest = mesh.landmarks(weights())[0, [62, 66]]
        assert (lips[0, 2] - lips[1, 2]) > (rest[0, 2] - rest[1, 2]) + 0.005  # the jaw opens the lips


def test_the_default_head_mesh_matches_its_landmark_table():
    head, mesh = load_head_model(), default_head_mesh()
    np.testing.assert_allclose(mesh.positions[mesh.landmark_indices], head.neutral, atol=1e-5)
    np.testing.assert_allclose(mesh.deltas[:, mesh.landmark_indices], head.deltas, atol=1e-5)


def test_identity_meshes_carry_the_identity_proportions():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assets"))
    from head.identity import identity

    default, other = default_head_mesh(0), default_head_mesh(2)
    ratio = np.ptp(other.positions, axis=0) / np.ptp(default.positions, axis=0)
    np.testing.assert_allclose(ratio, identity(2).design.scale, rtol=0.02)


def test_compiled_and_numpy_rasterizers_agree(default_renderer):
    from backend import facerender

    assert facerender._compiled_rasterize is not None  # numba ships with the command line's dependencies
    take = np.concatenate([weights(), weights(JawOpen=1.0), weights(LipsFunnel=1.0, MouthSmile_R=0.5)])
    compiled = default_renderer.render(take)
    saved, facerender._compiled_rasterize = facerender._compiled_rasterize, None
    try:
        plain = default_renderer.render(take)
    finally:
        facerender._compiled_rasterize = saved
    differs = np.abs(compiled.astype(int) - plain.astype(int)).max(axis=-1) > 2
    assert differs.mean() < 0.001  # only pixels where two triangles tie in depth may differ
