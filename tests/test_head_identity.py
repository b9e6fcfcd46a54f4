"""Identities of the procedural head (assets/head/identity.py): seed 0 is the default head to the bit, other
seeds are other faces that keep the 46 keys, the 68 landmarks, a closed mouth at rest that the jaw opens,
and the inner mouth behind the skin; one is built in a real Blender."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.headmodel import inner_lip_gap
from backend.rig import FACEWAREHOUSE_46

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "addon_scripts"
sys.path.insert(0, str(REPO / "assets"))

from head.design import DESIGN  # noqa: E402
from head.geometry import head_geometry  # noqa: E402
from head.identity import identity  # noqa: E402
from head.keys import shape_key_offsets  # noqa: E402
from head.landmarks import landmark_indices  # noqa: E402
from head.materials import MATERIALS  # noqa: E402
from head.mesh import build_mesh  # noqa: E402
from test_head_mouthbag import MARGIN, ViewDepth, closure_poses  # noqa: E402

SEEDS = (1, 2, 3, 7, 11)
MM = 0.001


@pytest.fixture(scope="module")
def heads() -> dict:
    return {seed: head_geometry(FACEWAREHOUSE_46, identity(seed).design) for seed in (0,) + SEEDS}


def landmark_points(head, weights: dict[str, float] | None = None) -> np.ndarray:
    positions = head.positions.copy()
    for name, weight in (weights or {}).items():
        positions += weight * head.offsets[name]
    return positions[head.landmarks]


def test_seed_zero_is_the_default_head_to_the_bit(heads):
    face = identity(0)
    assert face.design == DESIGN
    assert face.colours == {name: colour for name, (colour, _) in MATERIALS.items()}
    mesh = build_mesh(DESIGN)
    offsets = shape_key_offsets(mesh, FACEWAREHOUSE_46, DESIGN)
    head = heads[0]
    assert np.array_equal(head.positions, mesh.positions)
    assert head.faces == mesh.faces and np.array_equal(head.face_material, mesh.face_material)
    assert all(np.array_equal(head.offsets[name], offsets[name]) for name in FACEWAREHOUSE_46)
    assert np.array_equal(head.landmarks, landmark_indices(mesh, DESIGN))
    with np.load(REPO / "assets" / "head_landmarks.npz") as shipped:
        np.testing.assert_allclose(head.positions[head.landmarks], shipped["neutral"], atol=1e-6)
        assert np.array_equal(head.landmarks, shipped["vertex_indices"])
        deltas = np.stack([head.offsets[name][head.landmarks] for name in FACEWAREHOUSE_46])
        np.testing.assert_allclose(deltas, shipped["deltas"], atol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_identity_keeps_the_46_keys_and_68_landmarks(heads, seed):
    head, default = heads[seed], heads[0]
    assert set(head.offsets) == set(FACEWAREHOUSE_46)
    for name in FACEWAREHOUSE_46:
        moves = np.abs(head.offsets[name]).max()
        assert moves > 0.2 * np.abs(default.offsets[name]).max(), name
    marks = head.landmarks
    assert marks.shape == (68,) and len(set(marks.tolist())) == 68
    assert marks.min() >= 0 and marks.max() < len(head.positions)


@pytest.mark.parametrize("seed", SEEDS)
def test_lips_are_closed_at_rest_and_open_with_the_jaw(heads, seed):
    head, default = heads[seed], heads[0]
    assert inner_lip_gap(landmark_points(head))[0] < 0.2 * MM
    opened = inner_lip_gap(landmark_points(head, {"JawOpen": 1.0}))[0]
    assert opened > 0.7 * inner_lip_gap(landmark_points(default, {"JawOpen": 1.0}))[0] > 0.01
    # The 20 lip landmarks move down with the jaw like the default head's: the lower lip most.
    drop = landmark_points(head, {"JawOpen": 1.0})[:, 2] - landmark_points(head)[:, 2]
    assert drop[66] < drop[62] and drop[57] < -0.01


def test_identities_differ_in_proportions_and_colours(heads):
    sizes = {seed: np.ptp(head.positions, axis=0) for seed, head in heads.items()}
    mouths = {seed: np.linalg.norm(landmark_points(h)[54] - landmark_points(h)[48]) for seed, h in heads.items()}
    for seed in SEEDS:
        assert np.abs(sizes[seed] / sizes[0] - 1.0).max() > 0.01, seed
    assert len({round(float(m), 4) for m in mouths.values()}) == len(mouths)
    skins = [identity(seed).colours["Skin"] for seed in (0,) + SEEDS]
    assert len(set(skins)) == len(skins)
    assert max(sum(s[:3]) for s in skins) - min(sum(s[:3]) for s in skins) > 0.6  # light to dark
    for seed in SEEDS:
        assert set(identity(seed).colours) == set(MATERIALS)


def test_an_identity_is_the_same_every_time(heads):
    again = head_geometry(FACEWAREHOUSE_46, identity(7).design)
    assert identity(7) == identity(7)
    assert np.array_equal(again.positions, heads[7].positions)
    assert all(np.array_equal(again.offsets[n], heads[7].offsets[n]) for n in FACEWAREHOUSE_46)
    assert np.array_equal(again.landmarks, heads[7].landmarks)


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_the_inner_mouth_stays_behind_the_skin(seed):
    view = ViewDepth(identity(seed).design)
    depth, where = view.worst({})
    assert depth > 1 * MM, f"{depth / MM:.2f} mm at rest, at {np.round(where / MM, 1)} mm"
    for name, pose in list(closure_poses().items()) + [("JawOpen", {"JawOpen": 1.0})]:
        depth, where = view.worst(pose)
        assert depth > MARGIN, f"{name}: {depth / MM:.2f} mm at {np.round(where / MM, 1)} mm"


@pytest.mark.skipif(shutil.which("blender") is None, reason="no `blender` executable on PATH")
def test_blender_builds_an_identity_with_its_keys_and_landmarks(tmp_path):
    blender = shutil.which("blender")
    built = subprocess.run([blender, "-b", "--factory-startup", "--python-exit-code", "1", "--python",
                            str(REPO / "assets" / "build_head.py"), "--", "--out-dir", str(tmp_path),
                            "--identity", "5"], capture_output=True, text=True, timeout=300)
    blend = tmp_path / "head_identity_005.blend"
    assert built.returncode == 0 and blend.is_file(), built.stdout[-3000:] + built.stderr[-3000:]
    out = tmp_path / "read.npz"
    read = subprocess.run([blender, "-b", "--factory-startup", str(blend), "--python-exit-code", "1",
                           "--python", str(SCRIPTS / "read_head.py"), "--", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert read.returncode == 0 and out.is_file(), read.stdout[-3000:] + read.stderr[-3000:]
    head = head_geometry(FACEWAREHOUSE_46, identity(5).design)
    with np.load(out) as data:
        assert list(data["names"]) == ["Basis", *FACEWAREHOUSE_46]
        assert np.array_equal(data["landmarks"], head.landmarks)
        np.testing.assert_allclose(data["coords"][0], head.positions, atol=1e-6)
        jaw = 1 + FACEWAREHOUSE_46.index("JawOpen")
        np.testing.assert_allclose(data["coords"][jaw], head.positions + head.offsets["JawOpen"], atol=1e-6)
    with np.load(tmp_path / "head_identity_005_landmarks.npz") as table:
        np.testing.assert_allclose(table["neutral"], head.positions[head.landmarks], atol=1e-6)
    assert not (tmp_path / "head.blend").exists()
