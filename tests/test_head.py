"""The default head (assets/head.blend), opened with bpy: shape keys, landmarks, eyes, and a rebuild."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend import headmodel
from backend.rig import FACEWAREHOUSE_46, facewarehouse_table

REPO = Path(__file__).resolve().parents[1]
BLEND = REPO / "assets" / "head.blend"
HEAD = "MouthpieceHead"
MM = 0.001

# Where each table region's keys must do most of their work (z ranges in metres; eyes sit at z = 0.03).
REGION_Z = {"eyes": (0.005, 0.07), "brows": (0.015, 0.12), "jaw": (-0.2, -0.02), "mouth": (-0.09, -0.015),
            "lips": (-0.08, -0.025), "chin": (-0.11, -0.03), "nose": (-0.06, 0.03), "cheeks": (-0.07, 0.02)}


def read_head(path: Path) -> dict:
    """Rest coordinates, per-key coordinates and the landmark property of the head in a .blend."""
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(path))
    head = bpy.data.objects[HEAD]
    blocks = head.data.shape_keys.key_blocks
    coords = {}
    for block in blocks:
        flat = np.empty(len(block.data) * 3, dtype=np.float32)
        block.data.foreach_get("co", flat)
        coords[block.name] = flat.reshape(-1, 3).astype(np.float64)
    return {"names": [b.name for b in blocks], "coords": coords,
            "landmarks": np.array(head["mouthpiece_landmarks"]), "n_vertices": len(head.data.vertices)}


@pytest.fixture(scope="module")
def head() -> dict:
    pytest.importorskip("bpy")
    return read_head(BLEND)


def offsets(head: dict, name: str) -> np.ndarray:
    return head["coords"][name] - head["coords"]["Basis"]


def posed_landmarks(head: dict, pose: dict[str, float]) -> np.ndarray:
    points = head["coords"]["Basis"].copy()
    for name, weight in pose.items():
        points += weight * offsets(head, name)
    return points[head["landmarks"]]


def gap(head: dict, pose: dict[str, float]) -> float:
    return float(headmodel.inner_lip_gap(posed_landmarks(head, pose))[0])


def test_head_has_the_46_keys_by_name(head):
    assert head["names"][0] == "Basis"
    assert head["names"][1:] == list(FACEWAREHOUSE_46)


@pytest.mark.parametrize("info", facewarehouse_table(), ids=lambda info: info.name)
def test_each_key_moves_vertices_mostly_in_its_region(head, info):
    moved = np.linalg.norm(offsets(head, info.name), axis=1)
    assert moved.max() > 1.0 * MM, f"{info.name} barely moves (max {moved.max() * 1000:.2f} mm)"
    rest = head["coords"]["Basis"]
    low, high = REGION_Z[info.region]
    in_region = (rest[:, 2] > low) & (rest[:, 2] < high)
    assert moved[in_region].sum() > 0.85 * moved.sum(), f"{info.name} works outside its {info.region} region"
    for suffix, sign in (("_L", 1.0), ("_R", -1.0)):
        if info.name.endswith(suffix):
            on_side = sign * rest[:, 0] > 0.0
            assert moved[on_side].sum() > 0.85 * moved.sum(), f"{info.name} is not on the character's {suffix[1]}"


@pytest.mark.parametrize("side", ["L", "R"])
def test_sided_keys_mirror_each_other(head, side):
    other = "R" if side == "L" else "L"
    rest = head["coords"]["Basis"]
    for name in [n for n in FACEWAREHOUSE_46 if n.endswith("_" + side)]:
        mine = np.linalg.norm(offsets(head, name), axis=1)
        theirs = np.linalg.norm(offsets(head, name[:-1] + other), axis=1)
        assert np.isclose(mine.sum(), theirs.sum(), rtol=0.02)
        centre_mine = (rest[:, 0] * mine).sum() / mine.sum()
        centre_theirs = (rest[:, 0] * theirs).sum() / theirs.sum()
        assert np.isclose(centre_mine, -centre_theirs, atol=0.5 * MM)


def test_jaw_open_rotates_the_lower_face_and_parts_the_lips(head):
    rest = posed_landmarks(head, {})
    opened = posed_landmarks(head, {"JawOpen": 1.0})
    lower_lip = [55, 56, 57, 58, 59, 65, 66, 67]
    assert (opened[lower_lip, 2] - rest[lower_lip, 2] < -10 * MM).all()
    assert gap(head, {"JawOpen": 1.0}) > gap(head, {}) + 20 * MM
    assert (np.abs(opened[[62, 51]] - rest[[62, 51]]) < 0.5 * MM).all(), "the upper lip stays with the skull"
    # A hinge, not a slide: the chin travels further than the jaw's sides near the hinge, and tips back.
    travel = np.linalg.norm(opened - rest, axis=1)
    assert travel[3] < 0.75 * travel[8] and travel[13] < 0.75 * travel[8]
    assert opened[8, 1] - rest[8, 1] > 2 * MM


@pytest.mark.parametrize("key", ["LipsUpperClose", "LipsLowerClose"])
def test_lip_close_keys_shrink_the_gap_from_an_open_pose(head, key):
    open_gap = gap(head, {"JawOpen": 0.5})
    assert gap(head, {"JawOpen": 0.5, key: 1.0}) < open_gap - 4 * MM


def test_visemes_open_and_close_the_mouth_in_order(head):
    from backend.rig import RHUBARB_VISEMES

    gaps = {name: gap(head, pose) for name, pose in RHUBARB_VISEMES.items()}
    assert gaps["X"] == 0.0 and gaps["A"] < 1 * MM  # rest and P/B/M: lips together
    assert gaps["D"] > gaps["C"] > gaps["B"] > gaps["A"]  # AA opens widest


@pytest.mark.parametrize("side, pairs", [("L", [(43, 47), (44, 46)]), ("R", [(37, 41), (38, 40)])])
def test_blink_brings_the_lid_edges_together(head, side, pairs):
    rest = posed_landmarks(head, {})
    closed = posed_landmarks(head, {f"EyeBlink_{side}": 1.0})
    for upper, lower in pairs:
        assert np.linalg.norm(rest[upper] - rest[lower]) > 6 * MM
        assert np.linalg.norm(closed[upper] - closed[lower]) < 0.2 * MM


@pytest.mark.parametrize("side", ["L", "R"])
def test_blink_covers_the_eyeball_seen_from_the_camera(head, side):
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(BLEND))
    scene, obj = bpy.context.scene, bpy.data.objects[HEAD]
    eye = bpy.data.objects[f"Eye_{side}"]
    pupil = eye.matrix_world @ eye.data.vertices[0].co
    origin = scene.camera.matrix_world.translation

    def first_hit():
        depsgraph = bpy.context.evaluated_depsgraph_get()
        hit, _, _, _, hit_obj, _ = scene.ray_cast(depsgraph, origin, (pupil - origin).normalized())
        return hit_obj.name if hit else None

    assert first_hit() == eye.name
    obj.data.shape_keys.key_blocks[f"EyeBlink_{side}"].value = 1.0
    bpy.context.view_layer.update()
    assert first_hit() == HEAD


def test_gaze_keys_turn_the_eyeballs(head):
    import bpy
    from mathutils import Vector

    bpy.ops.wm.open_mainfile(filepath=str(BLEND))
    blocks = bpy.data.objects[HEAD].data.shape_keys.key_blocks
    eye = bpy.data.objects["Eye_L"]

    def gaze():
        bpy.context.view_layer.update()
        matrix = eye.evaluated_get(bpy.context.evaluated_depsgraph_get()).matrix_world
        return np.array(matrix.to_3x3() @ Vector((0.0, -1.0, 0.0)))

    ahead = gaze()
    blocks["EyeDown_L"].value = 1.0
    assert gaze()[2] < ahead[2] - 0.2
    blocks["EyeDown_L"].value = 0.0
    blocks["EyeIn_L"].value = 1.0  # toward the nose: the left eye turns toward -X
    assert gaze()[0] < ahead[0] - 0.2


def test_landmark_property_holds_68_ibug_ordered_vertices(head):
    marks, rest = head["landmarks"], head["coords"]["Basis"]
    assert marks.shape == (68,) and marks.dtype.kind == "i"
    assert len(set(marks.tolist())) == 68
    assert marks.min() >= 0 and marks.max() < head["n_vertices"]
    points = rest[marks]
    assert points[0, 0] < points[8, 0] < points[16, 0]  # jaw runs from the character's right
    assert points[8, 2] == points[:17, 2].min()  # chin at the bottom
    assert points[36, 0] < points[39, 0] < points[42, 0] < points[45, 0]
    assert points[30, 1] == points[27:36, 1].min()  # nose tip sticks out furthest
    assert points[48, 0] < points[51, 0] < points[54, 0] and points[51, 2] > points[62, 2]
    assert points[57, 2] < points[66, 2]
    assert np.allclose(points[62], points[66])  # lips closed at rest: inner contour top meets bottom
    assert abs(points[62, 0]) < 0.5 * MM and abs(points[66, 0]) < 0.5 * MM


def test_landmark_npz_matches_the_blend(head):
    model = headmodel.load(REPO / "assets" / "head_landmarks.npz")
    assert model.channels == tuple(FACEWAREHOUSE_46)
    assert np.array_equal(model.vertex_indices, head["landmarks"])
    np.testing.assert_allclose(model.neutral, posed_landmarks(head, {}), atol=1e-6)
    weights = np.zeros((2, 46), np.float32)
    weights[1, FACEWAREHOUSE_46.index("JawOpen")] = 0.7
    weights[1, FACEWAREHOUSE_46.index("LipsFunnel")] = 0.4
    np.testing.assert_allclose(model.landmarks(weights)[1], posed_landmarks(head, {"JawOpen": 0.7, "LipsFunnel": 0.4}),
                               atol=1e-6)


def test_landmarks_project_into_the_camera_image():
    model = headmodel.load()
    pixels = model.project(model.neutral)
    width, height = model.resolution
    assert (pixels > 0).all() and (pixels[:, 0] < width).all() and (pixels[:, 1] < height).all()
    assert pixels[36, 0] < pixels[45, 0]  # the character's right eye on the image's left
    assert pixels[19, 1] < pixels[30, 1] < pixels[62, 1] < pixels[8, 1]  # brow, nose, mouth, chin downward
    opened = model.landmarks(np.eye(46, dtype=np.float32)[FACEWAREHOUSE_46.index("JawOpen")])
    assert headmodel.inner_lip_gap(model.project(opened))[0] > 30  # pixels


def test_contact_sheet_is_committed():
    sheet = REPO / "assets" / "head_contact_sheet.png"
    assert sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sheet.stat().st_size < 3_000_000


def test_rebuild_gives_the_same_vertices(head, tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "assets" / "build_head.py"), "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rebuilt = read_head(tmp_path / "head.blend")
    assert rebuilt["names"] == head["names"]
    assert np.array_equal(rebuilt["landmarks"], head["landmarks"])
    for name in head["names"]:
        assert np.array_equal(rebuilt["coords"][name], head["coords"][name]), name
    with np.load(tmp_path / "head_landmarks.npz") as fresh, np.load(REPO / "assets" / "head_landmarks.npz") as kept:
        for field in headmodel.FIELDS:
            assert np.array_equal(fresh[field], kept[field]), field


def test_preview_renders_poses_into_a_labelled_sheet(tmp_path):
    pytest.importorskip("bpy")
    from matplotlib.image import imread

    sheet = tmp_path / "sheet.png"
    done = subprocess.run([sys.executable, str(REPO / "assets" / "render_preview.py"), "--out", str(sheet),
                           "--size", "96", "--only", "neutral", "JawOpen"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    image = imread(sheet)[..., :3].mean(axis=-1)
    height, width = image.shape
    assert width >= 180 and height >= 100
    mouth_rows = slice(int(0.62 * height), int(0.85 * height))

    def mouth_brightness(left: int) -> float:
        return float(image[mouth_rows, left + int(0.38 * width / 2):left + int(0.62 * width / 2)].mean())

    assert mouth_brightness(width // 2) < mouth_brightness(0) - 0.03  # the open mouth is dark inside


def test_preview_names_a_missing_blend(tmp_path):
    pytest.importorskip("bpy")
    done = subprocess.run([sys.executable, str(REPO / "assets" / "render_preview.py"), "--blend",
                           str(tmp_path / "absent.blend"), "--out", str(tmp_path / "x.png")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "absent.blend: file not found" in done.stderr


def test_head_model_names_a_bad_file(tmp_path):
    from backend.errors import InputError

    with pytest.raises(InputError, match="file not found"):
        headmodel.load(tmp_path / "none.npz")
    broken = tmp_path / "broken.npz"
    np.savez(broken, channels=np.array(["x"]))
    with pytest.raises(InputError, match="broken.npz: not a head landmark file"):
        headmodel.load(broken)
