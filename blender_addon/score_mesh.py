"""A Blender head as the lip-sync score sees it: its shape-key mesh, the camera's view and its animation.

`mesh_from_object` turns a mesh object with shape keys into a backend FaceMesh in world space (triangles
from Blender's own triangulation, colours from the materials' viewport colours). A head with the
"mouthpiece_landmarks" property (the default head has it) gets its face crop from those 68 vertices; a
head without it gets an empty landmark list, and the renderer guesses the face box from the vertices its
mouth-area shape keys move (backend/unmarked_face.py).
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy
import numpy as np

from .backend.animation import Animation, load_json
from .backend.errors import InputError
from .backend.facemesh import FaceMesh
from .backend.facerender import Camera, look_at_camera
from .keyframes import LAYERED_ACTIONS, action_fcurves, shape_key_name

LANDMARK_PROPERTY = "mouthpiece_landmarks"
SKIN = (0.8, 0.58, 0.47)  # linear RGB of a head without materials (the default head's skin)
FRAMING = 0.6  # without a scene camera, the head fills this fraction of the frame's width
DEFAULT_RESOLUTION = 512


def shape_keys_or_error(obj, where: str = ""):
    key = getattr(obj.data, "shape_keys", None) if obj is not None and obj.type == "MESH" else None
    if key is None or len(key.key_blocks) < 2:
        raise InputError(where or None, f"object {obj.name!r} has no shape keys to score")
    return key


def block_coordinates(block) -> np.ndarray:
    coords = np.empty(3 * len(block.data), dtype=np.float32)
    block.data.foreach_get("co", coords)
    return coords.reshape(-1, 3)


def to_world(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return (points @ matrix[:3, :3].T + matrix[:3, 3]).astype(np.float32)


def triangles_of(mesh) -> tuple[np.ndarray, np.ndarray]:
    """([F, 3] vertex indices, [F] material slot) of Blender's triangulation of the base mesh."""
    mesh.calc_loop_triangles()
    count = len(mesh.loop_triangles)
    vertices = np.empty(3 * count, dtype=np.int32)
    slots = np.empty(count, dtype=np.int32)
    mesh.loop_triangles.foreach_get("vertices", vertices)
    mesh.loop_triangles.foreach_get("material_index", slots)
    return vertices.reshape(-1, 3), slots


def slot_colours(mesh) -> np.ndarray:
    """[S, 3] linear viewport colour of each material slot (skin for empty slots; one row at least)."""
    colours = [tuple(m.diffuse_color)[:3] if m is not None else SKIN for m in mesh.materials]
    return np.asarray(colours or [SKIN], dtype=np.float32)


def landmarks_of(obj) -> np.ndarray:
    """The 68 landmark vertices from the object's property, or an empty array (no or unusable property)."""
    found = obj.get(LANDMARK_PROPERTY)
    indices = np.asarray(list(found) if found is not None else [], dtype=np.int64)
    if len(indices) != 68 or indices.min() < 0 or indices.max() >= len(obj.data.vertices):
        return np.zeros(0, dtype=np.int64)
    return indices


def mesh_from_object(obj) -> FaceMesh:
    """The object's head in world space: rest = its reference key, one delta per other key."""
    key = shape_keys_or_error(obj)
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    basis = key.reference_key
    rest = to_world(matrix, block_coordinates(basis))
    blocks = [b for b in key.key_blocks if b != basis]
    linear = matrix[:3, :3].T.astype(np.float32)
    deltas = np.stack([(block_coordinates(b) - block_coordinates(b.relative_key or basis)) @ linear
                       for b in blocks]).astype(np.float32)
    triangles, slots = triangles_of(obj.data)
    palette = slot_colours(obj.data)
    colour = palette[np.clip(slots, 0, len(palette) - 1)]
    return FaceMesh(rest, triangles, colour, tuple(b.name for b in blocks), deltas, landmarks_of(obj))


def camera_of(scene, obj) -> Camera:
    """The scene camera in OpenCV axes (horizontal sensor fit), or a frontal one from the head's -Y side."""
    width, height = scene.render.resolution_x, scene.render.resolution_y
    if scene.camera is not None and scene.camera.type == "CAMERA":
        camera = scene.camera
        world_to_blender_camera = np.array(camera.matrix_world.inverted(), dtype=np.float64)
        blender_to_opencv = np.diag([1.0, -1.0, -1.0, 1.0])
        focal = camera.data.lens / camera.data.sensor_width * width
        intrinsics = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
        return Camera(blender_to_opencv @ world_to_blender_camera, intrinsics)
    return frontal_camera(obj)


def frontal_camera(obj) -> Camera:
    """A camera looking at the object's bounding-box centre along +Y, far enough to frame it."""
    matrix = np.array(obj.matrix_world, dtype=np.float64)
    corners = to_world(matrix, np.array(obj.bound_box, dtype=np.float32)).astype(np.float64)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    centre, size = (lo + hi) / 2, max(hi[0] - lo[0], hi[2] - lo[2], 1e-3)
    size_px = DEFAULT_RESOLUTION
    focal = 50.0 / 36.0 * size_px
    distance = focal * size / (FRAMING * size_px) + (hi[1] - lo[1]) / 2
    intrinsics = np.array([[focal, 0.0, size_px / 2], [0.0, focal, size_px / 2], [0.0, 0.0, 1.0]])
    return look_at_camera(centre - np.array([0.0, distance, 0.0]), centre, intrinsics)


def scene_fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def shape_key_curves(key) -> dict:
    """{shape key name: F-curve} of the key's active action (its assigned slot on 4.4+)."""
    anim_data = key.animation_data
    action = anim_data.action if anim_data else None
    if action is None:
        return {}
    slot = anim_data.action_slot if LAYERED_ACTIONS else None
    curves = {shape_key_name(c.data_path): c for c in action_fcurves(action, slot)}
    curves.pop(None, None)
    return curves


def sample_shape_keys(obj, scene, first_frame: float, n_frames: int, fps: float = 25.0) -> Animation:
    """Every shape key of `obj` at `fps`, `n_frames` rows from scene frame `first_frame`: keys with an
    F-curve in the active action follow it, the others hold their current value."""
    key = shape_keys_or_error(obj)
    blocks = [b for b in key.key_blocks if b != key.reference_key]
    frames = first_frame + np.arange(max(1, n_frames)) / fps * scene_fps(scene)
    curves = shape_key_curves(key)
    values = np.empty((len(frames), len(blocks)), dtype=np.float32)
    for column, block in enumerate(blocks):
        curve = curves.get(block.name)
        values[:, column] = [curve.evaluate(float(f)) for f in frames] if curve is not None else block.value
    return Animation(fps, [b.name for b in blocks], values, "blendshape",
                     {"source": obj.name, "frame_start": float(first_frame)})


def animation_of(obj, fps: float = 25.0, scene=None) -> Animation:
    """The object's shape-key action sampled at `fps` over the action's frame range (else the scene's)."""
    scene = scene or bpy.context.scene
    key = shape_keys_or_error(obj)
    action = key.animation_data.action if key.animation_data else None
    first, last = (action.frame_range if action is not None else (scene.frame_start, scene.frame_end))
    n_frames = int(np.floor((last - first) / scene_fps(scene) * fps + 1e-6)) + 1
    return sample_shape_keys(obj, scene, float(first), n_frames, fps)


def heads_of(scene) -> list:
    return [o for o in scene.objects if o.type == "MESH" and getattr(o.data, "shape_keys", None) is not None
            and len(o.data.shape_keys.key_blocks) > 1]


def open_blend(blend: str | os.PathLike) -> None:
    path = Path(blend)
    if not path.is_file():
        raise InputError(path, "no such .blend file")
    try:
        bpy.ops.wm.open_mainfile(filepath=str(path.resolve()), load_ui=False)
    except RuntimeError as err:
        raise InputError(path, f"cannot be opened as a .blend ({str(err).strip().splitlines()[-1]})") from None


def find_head(blend, object_name: str | None):
    scene = bpy.context.scene
    if not object_name:
        heads = heads_of(scene)
        if len(heads) != 1:
            names = ", ".join(repr(o.name) for o in heads) or "none"
            raise InputError(blend, f"give --object: the meshes with shape keys are {names}")
        return heads[0]
    obj = bpy.data.objects.get(object_name)
    if obj is None:
        raise InputError(blend, f"has no object named {object_name!r}")
    shape_keys_or_error(obj, os.fspath(blend))
    return obj


def take_from_blend(blend: str | os.PathLike, object_name: str | None, animation_path: str | None):
    """(mesh, camera, animation) of `object_name` in `blend`: the Animation JSON at `animation_path`, or
    else the object's own shape-key action."""
    open_blend(blend)
    obj = find_head(blend, object_name)
    scene = bpy.context.scene
    if animation_path:
        anim = load_json(animation_path)
    elif obj.data.shape_keys.animation_data is None or obj.data.shape_keys.animation_data.action is None:
        raise InputError(blend, f"object {obj.name!r} has no shape-key action; give --animation")
    else:
        anim = animation_of(obj, scene=scene)
    return mesh_from_object(obj), camera_of(scene, obj), anim
