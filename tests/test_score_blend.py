"""Scoring a head from a .blend: the default head read from assets/head.blend is the default head, renders
the same crops and scores the same through `mouthpiece score --blend`; a head without landmarks or camera
still scores; a shape-key action is sampled at 25 fps. The bpy tests run here (bpy 4.5) and in the
Blender 5 module."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

try:
    import bpy
except ImportError:  # a Python without bpy runs the command-line tests through the Blender 5 module
    bpy = None

from backend.facemesh import default_head_mesh
from backend.facerender import Camera, FaceRenderer

REPO = Path(__file__).resolve().parents[1]
BLEND = REPO / "assets" / "head.blend"
HEAD = "MouthpieceHead"
BPY5 = REPO / ".venv-bpy5" / "bin" / "python"
NESTED = "MOUTHPIECE_SCORE_BLEND_IN_BLENDER"
EXPERT_ENV = "MOUTHPIECE_SYNC_EXPERT"
LINE = "Bob made a map of the moon for me."
needs_bpy = pytest.mark.skipif(bpy is None, reason="needs bpy: test_in_the_blender_5_module runs it")


@pytest.fixture(scope="module")
def bpy_python() -> str:
    """The Python that runs `mouthpiece score --blend`: this one when it has bpy, else the Blender 5 module's."""
    if os.environ.get(NESTED):
        pytest.skip("the command line is tested by the run that started this one")
    if bpy is not None:
        return sys.executable
    if not BPY5.is_file():
        pytest.skip("no bpy here and no .venv-bpy5")
    return str(BPY5)


def jaw_weights(channels) -> np.ndarray:
    """Closed, half open and open jaw, and a smile."""
    weights = np.zeros((4, len(channels)), dtype=np.float32)
    jaw, smile = channels.index("JawOpen"), channels.index("MouthSmile_L")
    weights[1, jaw], weights[2, jaw], weights[3, smile] = 0.5, 1.0, 1.0
    return weights


# --- in Blender -------------------------------------------------------------------------------------

@pytest.fixture
def head():
    bpy.ops.wm.open_mainfile(filepath=str(BLEND), load_ui=False)
    return bpy.data.objects[HEAD]


def default_camera() -> Camera:
    from backend.headmodel import load

    model = load()
    return Camera(model.world_to_camera, model.intrinsics)


@needs_bpy
def test_the_default_heads_blend_is_the_default_head(head):
    from blender_addon.score_mesh import camera_of, mesh_from_object

    read, built = mesh_from_object(head), default_head_mesh()
    assert read.channels == built.channels
    assert len(read.triangles) == len(built.triangles)
    np.testing.assert_allclose(read.positions, built.positions, atol=1e-5)
    np.testing.assert_allclose(read.deltas, built.deltas, atol=1e-5)
    np.testing.assert_array_equal(read.landmark_indices, built.landmark_indices)
    rest = np.zeros((1, len(built.channels)), dtype=np.float32)
    np.testing.assert_allclose(read.landmarks(rest), built.landmarks(rest), atol=1e-5)
    np.testing.assert_allclose(np.unique(read.face_colour, axis=0), np.unique(built.face_colour, axis=0), atol=1e-6)
    camera = camera_of(bpy.context.scene, head)
    np.testing.assert_allclose(camera.world_to_camera, default_camera().world_to_camera, atol=1e-5)
    np.testing.assert_allclose(camera.intrinsics, default_camera().intrinsics, atol=1e-4)


@needs_bpy
def test_the_blend_renders_the_default_heads_crops(head):
    from blender_addon.score_mesh import camera_of, mesh_from_object

    read, built = mesh_from_object(head), default_head_mesh()
    weights = jaw_weights(built.channels)
    from_blend = FaceRenderer(read, camera_of(bpy.context.scene, head)).render(weights).astype(np.float32)
    from_code = FaceRenderer(built, default_camera()).render(weights).astype(np.float32)
    assert from_blend.shape == (4, 48, 96, 3)
    assert np.abs(from_blend - from_code).mean() < 1.0  # only the triangulation of quads differs
    assert np.abs(from_blend[2] - from_blend[0]).mean() > 5.0  # the open jaw shows


@needs_bpy
def test_a_head_without_landmarks_or_camera_scores(head, tiny_expert):
    from backend.animation import Animation
    from backend.runtime.sync_expert import SyncExpert
    from backend.score import score_animation
    from blender_addon.score_mesh import camera_of, mesh_from_object

    scene = bpy.context.scene
    marked_box = FaceRenderer(mesh_from_object(head), camera_of(scene, head)).box
    del head["mouthpiece_landmarks"]
    mesh = mesh_from_object(head)
    assert mesh.landmark_indices.shape == (0,)
    guessed_box = FaceRenderer(mesh, camera_of(scene, head)).box
    width = marked_box.x1 - marked_box.x0
    for side in ("x0", "y0", "x1", "y1"):
        assert abs(getattr(guessed_box, side) - getattr(marked_box, side)) < 0.05 * width
    scene.camera = None
    camera = camera_of(scene, head)
    crops = FaceRenderer(mesh, camera).render(jaw_weights(mesh.channels)).astype(np.float32)
    assert np.abs(crops[2] - crops[0]).mean() > 5.0
    t = np.arange(75) / 25.0
    values = np.zeros((75, len(mesh.channels)), dtype=np.float32)
    values[:, mesh.channels.index("JawOpen")] = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    audio = (0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 16000)).astype(np.float32)
    score = score_animation(Animation(25.0, list(mesh.channels), values), audio, mesh, camera,
                            SyncExpert.load(tiny_expert))
    assert np.isfinite([score.confidence, score.distance]).all() and abs(score.offset_frames) <= 15


@needs_bpy
def test_the_shape_key_action_is_sampled_at_25_fps(head):
    from blender_addon.score_mesh import animation_of

    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 50, 1.0
    blocks = head.data.shape_keys.key_blocks
    for frame, value in ((1, 0.0), (51, 1.0)):
        blocks["JawOpen"].value = value
        blocks["JawOpen"].keyframe_insert("value", frame=frame)
    from blender_addon.keyframes import action_fcurves

    for curve in action_fcurves(head.data.shape_keys.animation_data.action):
        for point in curve.keyframe_points:
            point.interpolation = "LINEAR"
    blocks["Puff"].value = 0.3
    anim = animation_of(head)
    assert anim.fps == 25.0 and anim.n_frames == 26 and anim.kind == "blendshape"
    jaw = anim.values[:, anim.channels.index("JawOpen")]
    np.testing.assert_allclose(jaw, np.arange(26) / 25.0, atol=1e-5)
    np.testing.assert_allclose(anim.values[:, anim.channels.index("Puff")], 0.3, atol=1e-6)


# --- the command line, from a Python with torch ----------------------------------------------------

@pytest.fixture(scope="module")
def take(tmp_path_factory) -> tuple[Path, Path]:
    from backend.cli import main

    folder = tmp_path_factory.mktemp("take")
    animation, audio = folder / "A.json", folder / "A.wav"
    assert main(["animate", "--text", LINE, "--out", str(animation), "--speech-out", str(audio), "--quiet"]) == 0
    return animation, audio


def score_command(python: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-m", "backend.cli", "score", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_score_of_a_blend_is_the_default_heads(bpy_python, tmp_path, tiny_expert, take):
    python = bpy_python
    animation, audio = take
    common = ["--animation", str(animation), "--audio", str(audio), "--expert", str(tiny_expert)]
    done = score_command(python, "--blend", str(BLEND), "--object", HEAD, *common,
                         "--json", str(tmp_path / "blend.json"))
    assert done.returncode == 0, done.stderr
    assert "LSE-C" in done.stdout and "offset" in done.stdout
    plain = score_command(sys.executable, *common, "--json", str(tmp_path / "plain.json"))
    assert plain.returncode == 0, plain.stderr
    from_blend, from_code = (json.loads((tmp_path / name).read_text()) for name in ("blend.json", "plain.json"))
    assert from_blend["offset_frames"] == from_code["offset_frames"]
    for name in ("confidence", "distance", "expert"):
        assert from_blend[name] == pytest.approx(from_code[name], abs=2e-3)


@pytest.mark.parametrize("object_name, problem", [("Nope", "has no object named 'Nope'"),
                                                  ("FaceCamera", "'FaceCamera' has no shape keys")])
def test_score_of_a_blend_names_a_bad_object(bpy_python, tiny_expert, take, object_name, problem):
    python = bpy_python
    animation, audio = take
    done = score_command(python, "--blend", str(BLEND), "--object", object_name, "--animation", str(animation),
                         "--audio", str(audio), "--expert", str(tiny_expert))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "head.blend" in lines[0] and problem in lines[0], done.stderr


def test_in_the_blender_5_module(tmp_path, tiny_expert):
    if os.environ.get(NESTED) or (bpy is not None and bpy.app.version[:2] == (5, 0)):
        pytest.skip("this is that Blender")
    if not BPY5.is_file():
        pytest.skip("no .venv-bpy5 (bpy 5.0.1)")
    env = dict(os.environ, **{NESTED: "1", EXPERT_ENV: str(tiny_expert)})
    done = subprocess.run([str(BPY5), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--basetemp",
                           str(tmp_path / "run"), __file__], cwd=REPO, capture_output=True, text=True,
                          timeout=600, env=env)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0 and summary.startswith("4 passed"), done.stdout[-3000:]
