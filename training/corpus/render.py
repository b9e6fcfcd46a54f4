"""Face frames (256x256) and mouth crops (96x96) of a head (the default one unless told), rendered by bpy
(Workbench), with the 68 landmarks projected into each frame.

The head is opened once per process. The mouth crop is cut from each face frame around the head's lip
landmarks as the clip's camera sees them (about 128 pixels wide) and scaled to 96. Shape-key values are
set per frame by a frame-change handler; nothing is keyframed. A RenderVariation (training/corpus/
variation.py) changes the light, camera and background of one clip; without one the head's own are used.
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from backend.errors import InputError
from backend.fileio import atomic_path

from .heads import DEFAULT_BLEND, head_scene, landmarks_path
from .variation import RenderVariation, orbit

FRAMES_FPS = 25.0
FACE_SIZE = 256
MOUTH_SIZE = 96
ANTI_ALIASING = "FXAA"  # Workbench's cheapest; 8 samples costs 1.8x the time for little gain at 256
MOUTH_BOX_SCALE = 1.9  # crop side, in mouth widths (corner to corner)
HEAD_BLEND = DEFAULT_BLEND
_varied = {"scene": False}  # the open file's scene was changed by a variation: reopen it for the next clip


@dataclass(frozen=True)
class RenderedFrames:
    face: np.ndarray  # (T, 256, 256, 3) uint8
    mouth: np.ndarray  # (T, 96, 96, 3) uint8
    landmarks2d: np.ndarray | None = None  # (T, 68, 2) float32 pixels (x right, y down) in the face frames
    fps: float = FRAMES_FPS


def open_head(path: str = str(HEAD_BLEND)):
    """Open the head .blend (unless it is the file open now) and set up Workbench; returns the mesh
    carrying the shape keys."""
    import bpy

    if not Path(path).is_file():
        raise InputError(path, "the head .blend is missing; build it with assets/build_head.py")
    if _varied["scene"] or not (bpy.data.filepath and Path(bpy.data.filepath).resolve() == Path(path).resolve()):
        bpy.ops.wm.open_mainfile(filepath=path)
        _varied["scene"] = False
    scene = bpy.context.scene
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.display.shading.light = "STUDIO"
    scene.display.shading.color_type = "MATERIAL"
    scene.display.render_aa = ANTI_ALIASING
    scene.render.resolution_x = scene.render.resolution_y = FACE_SIZE
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.render.fps, scene.render.fps_base = int(FRAMES_FPS), 1.0
    if scene.camera is None:
        raise InputError(path, "the head .blend has no scene camera")
    return head_object(path)


def head_object(path: str):
    import bpy

    meshes = [o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys]
    tagged = [o for o in meshes if "mouthpiece_landmarks" in o]
    if not (tagged or meshes):
        raise InputError(path, "no mesh with shape keys in the head .blend")
    return (tagged or meshes)[0]


def mouth_box(image_size: int) -> tuple[int, int, int]:
    """(top, left, side) of the square mouth crop in a face frame, from the default head's landmarks."""
    from backend import headmodel

    head = headmodel.load()
    scale = image_size / head.resolution[0]
    return mouth_box_around(head.project(head.neutral[48:68]) * scale, image_size)


def mouth_box_around(lips: np.ndarray, image_size: int) -> tuple[int, int, int]:
    """(top, left, side) of the square mouth crop around the 20 lip landmarks' pixels [20, 2]."""
    width = float(np.linalg.norm(lips[6] - lips[0]))  # landmarks 54 and 48: the mouth corners
    side = min(image_size, int(math.ceil(width * MOUTH_BOX_SCALE)))
    centre = lips.mean(axis=0)
    left = int(np.clip(round(centre[0] - side / 2), 0, image_size - side))
    top = int(np.clip(round(centre[1] - side / 2 + 0.1 * side), 0, image_size - side))
    return top, left, side


def frame_weights(weights: np.ndarray, label_fps: float, duration_s: float) -> np.ndarray:
    """Label weights sampled at the render frame times (nearest label frame)."""
    n = max(1, int(math.ceil(duration_s * FRAMES_FPS - 1e-9)))
    index = np.minimum(np.round(np.arange(n) / FRAMES_FPS * label_fps).astype(int), len(weights) - 1)
    return weights[index]


def render_weights(weights: np.ndarray, channels: tuple[str, ...], head: str | os.PathLike = HEAD_BLEND,
                   variation: RenderVariation | None = None) -> RenderedFrames:
    """Render one frame per row of `weights` ([T, len(channels)]) of the `head` .blend, shot as
    `variation` says (None: as the file's own camera and light)."""
    import bpy

    from backend import headmodel

    obj = open_head(str(head))
    scene = bpy.context.scene
    if variation is not None:
        _varied["scene"] = True
        apply_variation(scene, variation)
    model = headmodel.load(landmarks_path(Path(head)))
    project = camera_projection(scene)
    landmarks2d = project(model.landmarks(model.channel_weights(channels, weights)))
    faces = np.stack(render_keyed(scene, obj, weights, channels))
    box = mouth_box_around(project(model.neutral[48:68]), faces.shape[1])
    return RenderedFrames(face=faces, mouth=crop_mouths(faces, box), landmarks2d=landmarks2d)


def render_keyed(scene, obj, weights: np.ndarray, channels: tuple[str, ...], read=None) -> list[np.ndarray]:
    """Render the scene once per row of `weights` ([T, len(channels)]), the object's shape keys set per
    frame by a frame-change handler (nothing is keyframed); each frame is read back with `read` (default:
    read_png, RGB)."""
    import bpy

    read = read or read_png
    blocks = obj.data.shape_keys.key_blocks
    targets = [(blocks[name], j) for j, name in enumerate(channels) if name in blocks]

    def apply(scene_now, *_):
        row = weights[min(max(scene_now.frame_current - 1, 0), len(weights) - 1)]
        for block, j in targets:
            block.value = float(row[j])

    scene.frame_start, scene.frame_end = 1, len(weights)
    bpy.app.handlers.frame_change_pre.append(apply)
    try:
        with tempfile.TemporaryDirectory(prefix="mouthpiece-render-") as folder, quiet_stdout():
            scene.render.filepath = os.path.join(folder, "f_")
            bpy.ops.render.render(animation=True)
            return [read(os.path.join(folder, f"f_{i:04d}.png")) for i in range(1, len(weights) + 1)]
    finally:
        bpy.app.handlers.frame_change_pre.remove(apply)


def apply_variation(scene, variation: RenderVariation) -> None:
    """Light, exposure, background and camera of one clip; the camera orbits the point it looks at."""
    import bpy
    from mathutils import Vector

    shading = scene.display.shading
    shading.studio_light = variation.studio_light
    shading.use_world_space_lighting = True
    shading.studiolight_rotate_z = math.radians(variation.light_rotation_deg)
    scene.view_settings.exposure = variation.exposure
    scene.world.color = variation.background
    camera = scene.camera
    target = np.array(head_scene().CAMERA_TARGET)
    location = orbit(np.array(camera.location), target, variation.yaw_deg, variation.pitch_deg)
    camera.location = location.tolist()
    camera.rotation_euler = (Vector(target.tolist()) - camera.location).to_track_quat("-Z", "Y").to_euler()
    camera.data.lens = camera.data.lens * variation.focal_scale
    bpy.context.view_layer.update()


def camera_projection(scene):
    """A function from world points [..., 3] to pixels [..., 2] (float32) of the scene camera's frames."""
    world_to_camera, intrinsics = head_scene().camera_matrices(scene, scene.camera)

    def project(points) -> np.ndarray:
        camera = np.asarray(points, dtype=np.float64) @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        pixels = camera @ intrinsics.T
        return (pixels[..., :2] / pixels[..., 2:3]).astype(np.float32)

    return project


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send Blender's per-frame "Saved: ..." lines (written by C code to fd 1) to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def read_png(path: str) -> np.ndarray:
    """(H, W, 3) uint8, top row first, read through Blender's image loader."""
    import bpy

    image = bpy.data.images.load(path)
    try:
        width, height = image.size
        pixels = np.empty(width * height * 4, dtype=np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    rgb = pixels.reshape(height, width, 4)[::-1, :, :3]
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def crop_mouths(frames: np.ndarray, box: tuple[int, int, int] | None = None) -> np.ndarray:
    """Mouth crops [T, 96, 96, 3] cut from face frames at `box` (top, left, side; default: the default head's)."""
    from scipy.ndimage import zoom

    top, left, side = box or mouth_box(frames.shape[1])
    crops = frames[:, top:top + side, left:left + side].astype(np.float32)
    scale = MOUTH_SIZE / side
    resized = zoom(crops, (1, scale, scale, 1), order=1, grid_mode=True, mode="nearest")
    return np.clip(np.round(resized[:, :MOUTH_SIZE, :MOUTH_SIZE]), 0, 255).astype(np.uint8)


def render_utterance(weights: np.ndarray, label_fps: float, duration_s: float, path: str | os.PathLike,
                     head: str | os.PathLike = HEAD_BLEND, variation: RenderVariation | None = None) -> None:
    """Render the utterance's face frames, mouth crops and projected landmarks at 25 fps into one NPZ
    (written atomically)."""
    from backend.rig import FACEWAREHOUSE_46

    frames = render_weights(frame_weights(weights, label_fps, duration_s), FACEWAREHOUSE_46, head, variation)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, face=frames.face, mouth=frames.mouth, landmarks2d=frames.landmarks2d,
                                fps=np.float32(frames.fps))
            handle.flush()
            os.fsync(handle.fileno())
