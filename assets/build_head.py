"""Build the default rigged head: assets/head.blend and assets/head_landmarks.npz.

    blender -b --factory-startup --python assets/build_head.py [-- --out-dir assets] [--identity SEED]
    .venv-bpy5/bin/python assets/build_head.py [--out-dir DIR] [--identity SEED]   # bpy as a module: the same vertices

--identity SEED builds another face of the same rig (assets/head/identity.py; 0, the default, is the
default head) into head_identity_SEED.blend and head_identity_SEED_landmarks.npz, three digits at least.

The mesh, its 46 FaceWarehouse-style shape keys and its 68 landmark vertices come from code in
assets/head/ (numpy only) and nothing random, so a rebuild gives the same vertices in any Blender. The
shipped head.blend is written by the oldest Blender the add-on supports (3.4): later versions read it,
while Blender 3.x crashes on meshes saved by 4.0 and later. Writes both files atomically.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parent
sys.path[:0] = [str(ASSETS), str(ASSETS.parent)]

import bpy  # noqa: E402

from backend.fileio import atomic_path  # noqa: E402
from backend.rig import FACEWAREHOUSE_46  # noqa: E402
from head import scene  # noqa: E402
from head.geometry import head_geometry  # noqa: E402
from head.identity import Identity, identity  # noqa: E402
from head.mesh import MATERIAL_ORDER  # noqa: E402

HEAD_NAME = "MouthpieceHead"
LANDMARK_PROPERTY = "mouthpiece_landmarks"


@dataclass(frozen=True)
class BuildOptions:
    out_dir: Path = ASSETS  # where head.blend and head_landmarks.npz are written
    identity: int = 0  # the face's seed; 0 is the default head

    def paths(self) -> tuple[Path, Path]:
        """(.blend, landmark .npz) this build writes."""
        stem = "head" if self.identity == 0 else f"head_identity_{self.identity:03d}"
        return self.out_dir / f"{stem}.blend", self.out_dir / f"{stem}_landmarks.npz"


def build_scene(face: Identity | None = None) -> tuple[bpy.types.Scene, bpy.types.Object, bpy.types.Object]:
    """A fresh scene holding the head (the default one unless `face` says otherwise), its eyes, a camera
    and lights. Returns (scene, head, camera)."""
    face = face or identity(0)
    geometry = head_geometry(FACEWAREHOUSE_46, face.design)

    scn = scene.empty_scene()
    collection = scn.collection
    head = scene.mesh_object(HEAD_NAME, geometry.positions, geometry.faces, geometry.face_material,
                             MATERIAL_ORDER, collection, face.colours)
    add_shape_keys(head, geometry.positions, geometry.offsets)
    head[LANDMARK_PROPERTY] = [int(i) for i in geometry.landmarks]
    scene.add_subdivision(head)
    for side, centre in zip("LR", geometry.eye_centres):
        eye = scene.add_eyeball(f"Eye_{side}", centre, geometry.eye_radius, head, collection, face.colours)
        scene.drive_gaze(eye, head, side)
    camera = scene.add_camera_and_light(scn, scene.CAMERA_TARGET, collection)
    scene.setup_render(scn)
    bpy.context.view_layer.update()
    return scn, head, camera


def add_shape_keys(obj: bpy.types.Object, rest: np.ndarray, offsets: dict[str, np.ndarray]) -> None:
    obj.shape_key_add(name="Basis", from_mix=False)
    obj.data.shape_keys.use_relative = True
    for name in FACEWAREHOUSE_46:
        block = obj.shape_key_add(name=name, from_mix=False)
        block.data.foreach_set("co", (rest + offsets[name]).astype(np.float32).ravel())
        block.slider_min, block.slider_max = 0.0, 1.0
    obj.data.update()


def key_coordinates(obj: bpy.types.Object, name: str) -> np.ndarray:
    block = obj.data.shape_keys.key_blocks[name]
    coords = np.empty(len(block.data) * 3, dtype=np.float32)
    block.data.foreach_get("co", coords)
    return coords.reshape(-1, 3)


def landmark_table(scn, head, camera) -> dict[str, np.ndarray]:
    """What backend.headmodel reads, measured from the Blender mesh itself."""
    indices = np.array(head[LANDMARK_PROPERTY], dtype=np.int64)
    neutral = key_coordinates(head, "Basis")[indices]
    deltas = np.stack([key_coordinates(head, name)[indices] - neutral for name in FACEWAREHOUSE_46])
    world_to_camera, intrinsics = scene.camera_matrices(scn, camera)
    return {"channels": np.array(FACEWAREHOUSE_46), "neutral": neutral.astype(np.float32),
            "deltas": deltas.astype(np.float32), "world_to_camera": world_to_camera,
            "intrinsics": intrinsics, "resolution": np.array([scn.render.resolution_x, scn.render.resolution_y]),
            "vertex_indices": indices}


def write_outputs(options: BuildOptions) -> tuple[Path, Path]:
    scn, head, camera = build_scene(identity(options.identity))
    table = landmark_table(scn, head, camera)
    blend_path, npz_path = options.paths()
    bpy.context.preferences.filepaths.save_version = 0  # no .blend1 backup of the temporary file
    with atomic_path(blend_path) as tmp:
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), compress=True, copy=True)
    with atomic_path(npz_path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **table)
    return blend_path, npz_path


def parse_options(argv=None) -> BuildOptions:
    if argv is None:  # inside Blender, the script's own arguments follow "--"
        argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=BuildOptions.out_dir)
    parser.add_argument("--identity", type=int, default=0, help="face seed (0: the default head)")
    args = parser.parse_args(argv)
    if args.identity < 0:
        parser.error(f"--identity must be 0 or more, not {args.identity}")
    return BuildOptions(out_dir=args.out_dir, identity=args.identity)


if __name__ == "__main__":
    for path in write_outputs(parse_options()):
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
