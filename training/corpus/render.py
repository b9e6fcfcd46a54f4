"""Face frames (256x256) and mouth crops (96x96) of the default head, rendered by bpy (Workbench).

The head is opened once per process. The mouth crop is cut from each face frame around the head's lip
landmarks (about 128 pixels wide) and scaled to 96. Shape-key values are set per frame by a
frame-change handler; nothing is keyframed.
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

FRAMES_FPS = 25.0
FACE_SIZE = 256
MOUTH_SIZE = 96
ANTI_ALIASING = "FXAA"  # Workbench's cheapest; 8 samples costs 1.8x the time for little gain at 256
MOUTH_BOX_SCALE = 1.9  # crop side, in mouth widths (corner to corner)
HEAD_BLEND = Path(__file__).resolve().parents[2] / "assets" / "head.blend"


@dataclass(frozen=True)
class RenderedFrames:
    face: np.ndarray  # (T, 256, 256, 3) uint8
    mouth: np.ndarray  # (T, 96, 96, 3) uint8
    fps: float = FRAMES_FPS


def open_head(path: str = str(HEAD_BLEND)):
    """Open the head .blend (unless it is the file open now) and set up Workbench; returns the mesh
    carrying the shape keys."""
    import bpy

    if not Path(path).is_file():
        raise InputError(path, "the default head .blend is missing; build it with assets/build_head.py")
    if not (bpy.data.filepath and Path(bpy.data.filepath).resolve() == Path(path).resolve()):
        bpy.ops.wm.open_mainfile(filepath=path)
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
    """(top, left, side) of the square mouth crop in a face frame, from the head's landmarks."""
    from backend import headmodel

    head = headmodel.load()
    scale = image_size / head.resolution[0]
    lips = head.project(head.neutral[48:68]) * scale
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


def render_weights(weights: np.ndarray, channels: tuple[str, ...]) -> RenderedFrames:
    """Render one frame per row of `weights` ([T, len(channels)])."""
    import bpy

    obj = open_head()
    scene = bpy.context.scene
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
            images = [read_png(os.path.join(folder, f"f_{i:04d}.png")) for i in range(1, len(weights) + 1)]
    finally:
        bpy.app.handlers.frame_change_pre.remove(apply)
    faces = np.stack(images)
    return RenderedFrames(face=faces, mouth=crop_mouths(faces))


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


def crop_mouths(frames: np.ndarray) -> np.ndarray:
    from scipy.ndimage import zoom

    top, left, side = mouth_box(frames.shape[1])
    crops = frames[:, top:top + side, left:left + side].astype(np.float32)
    scale = MOUTH_SIZE / side
    resized = zoom(crops, (1, scale, scale, 1), order=1, grid_mode=True, mode="nearest")
    return np.clip(np.round(resized[:, :MOUTH_SIZE, :MOUTH_SIZE]), 0, 255).astype(np.uint8)


def render_utterance(weights: np.ndarray, label_fps: float, duration_s: float, path: str | os.PathLike) -> None:
    """Render the utterance's face frames and mouth crops at 25 fps into one NPZ (written atomically)."""
    from backend.rig import FACEWAREHOUSE_46

    frames = render_weights(frame_weights(weights, label_fps, duration_s), FACEWAREHOUSE_46)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, face=frames.face, mouth=frames.mouth, fps=np.float32(frames.fps))
            handle.flush()
            os.fsync(handle.fileno())
