"""Small heads for the add-on tests (a mesh with named shape keys), and the add-on zip."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def build_addon_zip(out: Path) -> Path:
    """dist zip for linux-x64, built into `out` by build_addon.py as a user would."""
    done = subprocess.run([sys.executable, str(REPO / "build_addon.py"), "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (zip_path,) = out.glob("mouthpiece-*.zip")
    return zip_path


def make_head(name: str, key_names, with_landmarks: bool = False):
    """A 4x4 grid mesh with a Basis and one shape key per name (vertex i moves up for key i)."""
    import bpy

    verts = [(x, y, 0.0) for y in range(4) for x in range(4)]
    faces = [(y * 4 + x, y * 4 + x + 1, y * 4 + x + 5, y * 4 + x + 4) for y in range(3) for x in range(3)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis", from_mix=False)
    for i, key_name in enumerate(key_names):
        block = obj.shape_key_add(name=key_name, from_mix=False)
        coords = np.array(verts, dtype=np.float32)
        coords[i % len(verts), 2] += 0.1
        block.data.foreach_set("co", coords.ravel())
    if with_landmarks:
        obj["mouthpiece_landmarks"] = list(range(len(verts)))
    return obj


def make_plain(name: str = "Plain"):
    import bpy

    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj
