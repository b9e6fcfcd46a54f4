"""The shipped default head opens in Debian's Blender 3.4 (`blender -b`), the oldest Blender the add-on
supports, with its 46 shape keys, its 68 landmarks and the vertices assets/head/ builds."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.rig import FACEWAREHOUSE_46

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(__file__).resolve().parent / "addon_scripts"
BLENDER = shutil.which("blender")

pytestmark = pytest.mark.skipif(BLENDER is None, reason="no `blender` executable on PATH")


def read_in_blender(blend: Path, out: Path) -> dict:
    done = subprocess.run([BLENDER, "-b", "--factory-startup", str(blend), "--python-exit-code", "1",
                           "--python", str(SCRIPTS / "read_head.py"), "--", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    with np.load(out) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> dict:
    return read_in_blender(REPO / "assets" / "head.blend", tmp_path_factory.mktemp("head") / "head.npz")


def test_blender_opens_the_shipped_head_with_its_keys_and_landmarks(shipped):
    assert tuple(shipped["version"][:2]) >= (3, 4)
    assert list(shipped["names"]) == ["Basis", *FACEWAREHOUSE_46]
    marks = shipped["landmarks"]
    assert marks.shape == (68,) and len(set(marks.tolist())) == 68
    assert marks.min() >= 0 and marks.max() < shipped["coords"].shape[1]


def test_the_shipped_head_holds_the_vertices_the_build_code_makes(shipped):
    sys.path.insert(0, str(REPO / "assets"))
    from head.keys import shape_key_offsets
    from head.landmarks import landmark_indices
    from head.mesh import build_mesh

    mesh = build_mesh()
    offsets = shape_key_offsets(mesh, FACEWAREHOUSE_46)
    coords = shipped["coords"].astype(np.float64)
    np.testing.assert_allclose(coords[0], mesh.positions, atol=1e-6)
    for k, name in enumerate(FACEWAREHOUSE_46, start=1):
        np.testing.assert_allclose(coords[k], mesh.positions + offsets[name], atol=1e-6, err_msg=name)
    assert np.array_equal(shipped["landmarks"], landmark_indices(mesh))
