"""A person's own talking video as the renderer's frame folder (`mouthpiece-train nerf-frames --video F`).

The video should be frontal, from a camera that does not move, with a background that does not move:
- frames are taken at 25 fps (the nearest source frame to each 25th of a second) and cut to one square
  around every frame's face (the union of MediaPipe's face boxes, widened by CROP_MARGIN), scaled to --size;
- the camera is a pinhole at the origin looking along -Z (Blender's convention) with a VIRTUAL_FOV_DEG
  field of view; MediaPipe's 68 points (training/datasets/landmarks.py) are lifted to world units by putting
  the face at the depth where its jaw width is FACE_WIDTH_M, MediaPipe's relative depths scaled alike;
- the eyelid closure comes from the eye aspect ratio (EAR, Soukupova and Cech) of MediaPipe's refined eye
  contours: 0 at the video's open-eye EAR (its OPEN_PERCENTILE), 1 at CLOSED_FRACTION of it;
- the audio feature is the soundtrack's (training/nerf/conditions.py);
- the head's box spans the whole view from just before the face to well behind it, so the field also
  learns the still background, which a video cannot leave out;
- the last --val-seconds are held out.
The rest face is the median of the frames' landmarks.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from backend.errors import InputError

from .conditions import AUDIO_FEATURES, frame_audio_features
from .frames import write_frame_folder

FPS = 25.0
CROP_MARGIN = 0.35  # of the face box's size, on every side
VIRTUAL_FOV_DEG = 30.0
FACE_WIDTH_M = 0.14  # jaw to jaw (iBUG 0 to 16) of an adult face
OPEN_PERCENTILE = 90.0
CLOSED_FRACTION = 0.5
BOX_NEAR, BOX_FAR = 0.6, 2.5  # the box's depth span, in face widths in front of and behind the face
MIN_FOUND = 0.9  # of the frames, with a face found


def resample_indices(n_frames: int, source_fps: float) -> np.ndarray:
    """Source frame indices nearest each 25 fps frame time."""
    count = max(1, int(np.floor(n_frames / source_fps * FPS + 1e-9)))
    return np.minimum(np.round(np.arange(count) / FPS * source_fps).astype(int), n_frames - 1)


def square_crop(points: np.ndarray, width: int, height: int) -> tuple[int, int, int]:
    """(left, top, side) of one square around every frame's face, widened and kept inside the frame."""
    low, high = points[..., :2].reshape(-1, 2).min(axis=0), points[..., :2].reshape(-1, 2).max(axis=0)
    side = int(np.ceil(max(high - low) * (1 + 2 * CROP_MARGIN)))
    side = min(side, width, height)
    centre = (low + high) / 2
    left = int(np.clip(np.round(centre[0] - side / 2), 0, width - side))
    top = int(np.clip(np.round(centre[1] - side / 2), 0, height - side))
    return left, top, side


def eye_aspect_ratio(points: np.ndarray) -> np.ndarray:
    """(T,) the mean over both eyes of (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|), iBUG 36-41 and 42-47."""
    ratios = []
    for first in (36, 42):
        eye = points[:, first:first + 6, :2]
        lids = np.linalg.norm(eye[:, 1] - eye[:, 5], axis=-1) + np.linalg.norm(eye[:, 2] - eye[:, 4], axis=-1)
        ratios.append(lids / (2.0 * np.maximum(np.linalg.norm(eye[:, 0] - eye[:, 3], axis=-1), 1e-6)))
    return np.mean(ratios, axis=0)


def eyelid_closure(ear: np.ndarray) -> np.ndarray:
    """(T,) closure in [0, 1] from the eye aspect ratio, against this video's own open eyes."""
    open_ear = float(np.percentile(ear, OPEN_PERCENTILE))
    closed_ear = CLOSED_FRACTION * open_ear
    return np.clip((open_ear - ear) / max(open_ear - closed_ear, 1e-6), 0.0, 1.0).astype(np.float32)


def lift(points: np.ndarray, focal: float, size: int) -> tuple[np.ndarray, float]:
    """World landmarks (T, 68, 3) of crop-pixel points (x, y, relative depth in x's scale) and the face's
    depth: the camera at the origin looks along -Z, +Y up."""
    jaw = float(np.median(np.linalg.norm(points[:, 16, :2] - points[:, 0, :2], axis=-1)))
    behind = float(np.median(points[:, [0, 16], 2].mean(axis=1)))  # the jaw's ends sit behind the face's middle
    depth = focal * FACE_WIDTH_M / max(jaw * (1.0 + behind / focal), 1e-6)
    metres_per_pixel = depth / focal
    distance = depth + points[..., 2] * metres_per_pixel  # MediaPipe's depth is negative toward the camera
    x = (points[..., 0] + 0.5 - size / 2) / focal * distance
    y = -(points[..., 1] + 0.5 - size / 2) / focal * distance
    return np.stack([x, y, -distance], axis=-1).astype(np.float32), depth


def view_box(focal: float, size: int, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """A box from BOX_NEAR face widths before the face to BOX_FAR behind it, wide enough at its far end to
    hold the whole view."""
    near, far = depth - BOX_NEAR * FACE_WIDTH_M, depth + BOX_FAR * FACE_WIDTH_M
    half = far * (size / 2) / focal * 1.02
    return np.array([-half, -half, -far]), np.array([half, half, -near])


def build(video: str | Path, out: str | Path, size: int = 128, val_seconds: float = 10.0, tracker=None) -> Path:
    from backend.audio import load_audio
    from PIL import Image

    from ..datasets.landmarks import MediaPipeTracker
    from ..datasets.media import read_video

    video = Path(video)
    if not video.is_file():
        raise InputError(video, "video not found")
    frames, source_fps = read_video(video)
    frames = frames[resample_indices(len(frames), source_fps)]
    points, found = (tracker or MediaPipeTracker(refine=True)).track(frames)
    if found.mean() < MIN_FOUND:
        raise InputError(video, f"a face was found in only {found.sum()} of {len(found)} frames; the renderer "
                                "needs a face in every frame")
    keep = np.flatnonzero(found)
    frames, points = frames[keep], points[keep]
    left, top, side = square_crop(points, frames.shape[2], frames.shape[1])
    scale = size / side
    crops = np.stack([np.asarray(Image.fromarray(f[top:top + side, left:left + side]).resize((size, size),
                                                                                           Image.BILINEAR))
                      for f in frames])
    pixels = np.concatenate([(points[..., :2] - [left, top] + 0.5) * scale - 0.5, points[..., 2:] * scale], axis=-1)
    focal = size / (2.0 * np.tan(np.radians(VIRTUAL_FOV_DEG) / 2.0))
    landmarks, depth = lift(pixels, focal, size)
    box_min, box_max = view_box(focal, size, depth)
    audio = frame_audio_features(load_audio(video), len(found), FPS)[keep]
    held = np.arange(len(keep)) >= len(keep) - int(round(val_seconds * FPS))
    if held.all():
        raise InputError(video, f"the video is no longer than --val-seconds ({val_seconds:g} s)")
    return write_frame_folder(out, crops, np.array([focal, focal, size / 2, size / 2]), np.eye(4), landmarks,
                              eyelid_closure(eye_aspect_ratio(pixels)), audio, box_min, box_max, fps=FPS, val=held,
                              audio_features=AUDIO_FEATURES, neutral=np.median(landmarks, axis=0))
