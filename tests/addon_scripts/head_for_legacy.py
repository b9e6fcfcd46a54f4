"""Rebuild a head saved by Blender 4.x in Blender 3.4, which cannot read 4.x files.

`dump` runs in the bpy 4.5 module and writes meshes (with shape keys, smooth flags, material colours),
and the camera to an .npz; `load` runs inside Blender 3.4 and recreates them.
"""
from __future__ import annotations

import numpy as np


def dump(blend_path: str, npz_path: str) -> None:
    import bpy

    bpy.ops.wm.open_mainfile(filepath=blend_path)
    arrays: dict[str, np.ndarray] = {}
    meshes = [o for o in bpy.data.objects if o.type == "MESH"]
    arrays["objects"] = np.array([o.name for o in meshes])
    for i, obj in enumerate(meshes):
        mesh = obj.data
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float32)
        mesh.vertices.foreach_get("co", co)
        loops = np.empty(len(mesh.loops), dtype=np.int32)
        mesh.loops.foreach_get("vertex_index", loops)
        sizes = np.array([p.loop_total for p in mesh.polygons], dtype=np.int32)
        arrays[f"{i}_co"] = co.reshape(-1, 3)
        arrays[f"{i}_loops"], arrays[f"{i}_sizes"] = loops, sizes
        arrays[f"{i}_smooth"] = np.array([p.use_smooth for p in mesh.polygons])
        arrays[f"{i}_material"] = np.array([p.material_index for p in mesh.polygons], dtype=np.int32)
        arrays[f"{i}_colors"] = np.array([list(m.diffuse_color) for m in mesh.materials], dtype=np.float32)
        arrays[f"{i}_matrix"] = np.array(obj.matrix_world, dtype=np.float32)
        arrays[f"{i}_subsurf"] = np.array([m.levels for m in obj.modifiers if m.type == "SUBSURF"][:1] or [0])
        keys = mesh.shape_keys.key_blocks if mesh.shape_keys else []
        arrays[f"{i}_keys"] = np.array([k.name for k in keys])
        shapes = []
        for block in keys:
            coords = np.empty(len(block.data) * 3, dtype=np.float32)
            block.data.foreach_get("co", coords)
            shapes.append(coords.reshape(-1, 3))
        arrays[f"{i}_shapes"] = np.array(shapes, dtype=np.float32).reshape(len(shapes), len(mesh.vertices), 3)
    camera = bpy.context.scene.camera
    arrays["camera_matrix"] = np.array(camera.matrix_world, dtype=np.float32)
    arrays["camera_lens"] = np.array(camera.data.lens)
    np.savez_compressed(npz_path, **arrays)


def load(npz_path: str):
    """Recreate the dumped objects in the current scene; returns the mesh with the most shape keys."""
    import bpy
    from mathutils import Matrix

    data = np.load(npz_path, allow_pickle=False)
    scene = bpy.context.scene
    best, best_keys = None, 0
    for i, name in enumerate(data["objects"]):
        sizes = data[f"{i}_sizes"]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        faces = [data[f"{i}_loops"][s:s + n].tolist() for s, n in zip(starts, sizes)]
        mesh = bpy.data.meshes.new(str(name))
        mesh.from_pydata(data[f"{i}_co"].tolist(), [], faces)
        mesh.polygons.foreach_set("use_smooth", data[f"{i}_smooth"])
        mesh.polygons.foreach_set("material_index", data[f"{i}_material"])
        for j, color in enumerate(data[f"{i}_colors"]):
            material = bpy.data.materials.new(f"{name}_{j}")
            material.diffuse_color = color.tolist()
            mesh.materials.append(material)
        obj = bpy.data.objects.new(str(name), mesh)
        obj.matrix_world = Matrix(data[f"{i}_matrix"].tolist())
        scene.collection.objects.link(obj)
        if int(data[f"{i}_subsurf"][0]):
            obj.modifiers.new("Subdivision", "SUBSURF").levels = int(data[f"{i}_subsurf"][0])
        for key_name, coords in zip(data[f"{i}_keys"], data[f"{i}_shapes"]):
            block = obj.shape_key_add(name=str(key_name), from_mix=False)
            block.data.foreach_set("co", coords.ravel())
        if best is None or len(data[f"{i}_keys"]) > best_keys:
            best, best_keys = obj, len(data[f"{i}_keys"])
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    camera.matrix_world = Matrix(data["camera_matrix"].tolist())
    camera.data.lens = float(data["camera_lens"])
    scene.collection.objects.link(camera)
    scene.camera = camera
    return best


if __name__ == "__main__":
    import sys

    dump(sys.argv[1], sys.argv[2])
