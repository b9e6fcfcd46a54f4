"""The renderer's training data: a folder of frames of one person talking, with per-frame camera and conditions.

    FRAMES/frames.json
    FRAMES/images/000000.png ...          RGB or RGBA PNGs, all width x height

frames.json:

    {"format": "mouthpiece-nerf-frames", "version": 1, "width": W, "height": H, "fps": 25.0,
     "box_min": [x, y, z], "box_max": [x, y, z],   # the head's axis-aligned bounds, world units
     "audio_features": "what the audio vectors are (free text)",
     "neutral_landmarks": [[x, y, z] x 68],       # optional: the person's rest face, world units
     "frames": [{"image": "images/000000.png",
                 "intrinsics": [fx, fy, cx, cy],          # pixels
                 "camera_to_world": [[4 numbers] x 4],    # Blender's matrix_world: looks along -Z, +Y up
                 "landmarks": [[x, y, z] x 68],           # world units, the iBUG 68 order
                 "blink": 0.0,                            # eye closure in [0, 1]
                 "audio": [A numbers],                    # the frame's audio feature, same length for all
                 "split": "train",                        # or "val" (held out); "train" when absent
                 "clip": "utterance id"}, ...],           # optional: which utterance the frame belongs to
     "clip_audio": {"utterance id": "/abs/path.wav"}}     # optional: each utterance's audio (frame 0 = 0 s)

Transparent pixels of an RGBA image are composited over the renderer's background colour.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import InputError
from backend.fileio import atomic_path, write_text_atomic

FORMAT = "mouthpiece-nerf-frames"
INDEX = "frames.json"
N_LANDMARKS = 68
SPLITS = ("train", "val")


@dataclass
class FrameClip:
    """The frames of one split, in memory: images stay uint8 until rays are drawn from them."""

    images: np.ndarray       # (N, H, W, 3) uint8
    intrinsics: np.ndarray   # (N, 4) float32
    cameras: np.ndarray      # (N, 4, 4) float32
    landmarks: np.ndarray    # (N, 68, 3) float32
    blink: np.ndarray        # (N,) float32
    audio: np.ndarray        # (N, A) float32
    clip_ids: list[str] | None = None         # each frame's utterance, when the index names them
    clip_audio: dict[str, str] | None = None  # utterance -> its audio file, when the index gives them

    def __len__(self) -> int:
        return len(self.images)

    @property
    def height(self) -> int:
        return self.images.shape[1]

    @property
    def width(self) -> int:
        return self.images.shape[2]


@dataclass(frozen=True)
class FrameFolder:
    box_min: tuple[float, float, float]
    box_max: tuple[float, float, float]
    audio_dim: int
    fps: float
    audio_features: str
    train: FrameClip
    val: FrameClip
    neutral: np.ndarray | None = None  # (68, 3) the rest face's landmarks, when the index gives them


def write_frame_folder(folder: str | os.PathLike, images: np.ndarray, intrinsics: np.ndarray, cameras: np.ndarray,
                       landmarks: np.ndarray, blink: np.ndarray, audio: np.ndarray, box_min, box_max,
                       fps: float = 25.0, val: np.ndarray | None = None, audio_features: str = "",
                       neutral: np.ndarray | None = None, clips=None, clip_audio: dict | None = None) -> Path:
    """Write arrays (N frames; intrinsics (4,) or (N, 4), cameras (4, 4) or (N, 4, 4)) as a frame folder;
    `val` marks held-out frames, `neutral` (68, 3) is the rest face, `clips` (N strings) each frame's
    utterance and `clip_audio` {utterance: audio path} their audio. Every file is written atomically,
    frames.json last."""
    from PIL import Image

    folder = Path(folder)
    n = len(images)
    intrinsics = np.broadcast_to(np.asarray(intrinsics, np.float64), (n, 4))
    cameras = np.broadcast_to(np.asarray(cameras, np.float64), (n, 4, 4))
    val = np.zeros(n, bool) if val is None else np.asarray(val, bool)
    frames = []
    for i in range(n):
        name = f"images/{i:06d}.png"
        with atomic_path(folder / name) as tmp:
            Image.fromarray(np.asarray(images[i], np.uint8)).save(tmp, format="PNG")
        frames.append({"image": name, "intrinsics": intrinsics[i].tolist(), "camera_to_world": cameras[i].tolist(),
                       "landmarks": np.asarray(landmarks[i], np.float64).tolist(), "blink": float(blink[i]),
                       "audio": np.asarray(audio[i], np.float64).tolist(), "split": "val" if val[i] else "train"})
        if clips is not None:
            frames[-1]["clip"] = str(clips[i])
    index = {"format": FORMAT, "version": 1, "width": int(images.shape[2]), "height": int(images.shape[1]),
             "fps": float(fps), "box_min": [float(v) for v in box_min], "box_max": [float(v) for v in box_max],
             "audio_features": audio_features, "frames": frames}
    if neutral is not None:
        index["neutral_landmarks"] = np.asarray(neutral, np.float64).tolist()
    if clip_audio:
        index["clip_audio"] = {str(k): os.fspath(v) for k, v in clip_audio.items()}
    write_text_atomic(folder / INDEX, json.dumps(index))
    return folder


def read_frame_folder(folder: str | os.PathLike, background=(1.0, 1.0, 1.0)) -> FrameFolder:
    """Load a frame folder; bad input raises InputError naming the file and the problem."""
    path = Path(folder) / INDEX
    index = read_index(path)
    width, height = index["width"], index["height"]
    box_min, box_max = vector3(path, index, "box_min"), vector3(path, index, "box_max")
    if not all(lo < hi for lo, hi in zip(box_min, box_max)):
        raise InputError(path, "box_min must be below box_max on every axis")
    frames = index["frames"]
    if not isinstance(frames, list) or not frames:
        raise InputError(path, "'frames' must be a non-empty list")
    audio_dim = len(frames[0].get("audio", []))
    rows = [check_frame(path, i, frame, audio_dim) for i, frame in enumerate(frames)]
    images = [read_image(Path(folder) / frame["image"], width, height, background) for frame in frames]
    clips = {split: clip([(img, row) for img, row, frame in zip(images, rows, frames)
                          if frame.get("split", "train") == split], audio_dim, height, width) for split in SPLITS}
    audio_files = clip_audio_files(path, index)
    if all("clip" in frame for frame in frames):
        for split, part in clips.items():
            part.clip_ids = [frame["clip"] for frame in frames if frame.get("split", "train") == split]
            part.clip_audio = audio_files
    if not len(clips["train"]):
        raise InputError(path, "no training frames (every frame is split 'val')")
    return FrameFolder(box_min=box_min, box_max=box_max, audio_dim=audio_dim, fps=float(index.get("fps", 25.0)),
                       audio_features=str(index.get("audio_features", "")), train=clips["train"], val=clips["val"],
                       neutral=neutral_landmarks(path, index))


def neutral_landmarks(path: Path, index: dict) -> np.ndarray | None:
    if "neutral_landmarks" not in index:
        return None
    try:
        neutral = np.asarray(index["neutral_landmarks"], np.float32)
    except (TypeError, ValueError):
        neutral = None
    if neutral is None or neutral.shape != (N_LANDMARKS, 3) or not np.isfinite(neutral).all():
        raise InputError(path, f"'neutral_landmarks' must be {N_LANDMARKS} x 3 finite numbers")
    return neutral


def clip_audio_files(path: Path, index: dict) -> dict[str, str] | None:
    files = index.get("clip_audio")
    if files is None:
        return None
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise InputError(path, "'clip_audio' must map utterance ids to audio file paths")
    return dict(files)


def read_index(path: Path) -> dict:
    if not path.is_file():
        raise InputError(path.parent, f"not a frame folder (no {INDEX})")
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"unreadable JSON ({str(err).splitlines()[0]})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise InputError(path, f"not a {FORMAT} index")
    for key in ("width", "height"):
        if not isinstance(index.get(key), int) or index[key] < 1:
            raise InputError(path, f"'{key}' must be a positive integer")
    return index


def vector3(path: Path, index: dict, key: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in index[key])
    except (KeyError, TypeError, ValueError):
        values = ()
    if len(values) != 3:
        raise InputError(path, f"'{key}' must be 3 numbers")
    return values  # type: ignore[return-value]


def check_frame(path: Path, i: int, frame, audio_dim: int) -> tuple[np.ndarray, ...]:
    """(intrinsics, camera, landmarks, blink, audio) of frame i as arrays, or an InputError naming the field."""
    shapes = {"intrinsics": (4,), "camera_to_world": (4, 4), "landmarks": (N_LANDMARKS, 3), "blink": (),
              "audio": (audio_dim,)}
    if not isinstance(frame, dict) or not isinstance(frame.get("image"), str):
        raise InputError(path, f"frame {i}: needs an 'image' path")
    if frame.get("split", "train") not in SPLITS:
        raise InputError(path, f"frame {i}: split must be 'train' or 'val'")
    if not isinstance(frame.get("clip", ""), str):
        raise InputError(path, f"frame {i}: 'clip' must be an utterance id (a string)")
    arrays = []
    for key, shape in shapes.items():
        try:
            value = np.asarray(frame[key], np.float32)
        except (KeyError, TypeError, ValueError):
            value = None
        if value is None or value.shape != shape or not np.isfinite(value).all():
            raise InputError(path, f"frame {i}: '{key}' must be {shape or 'a number'} finite numbers")
        arrays.append(value)
    if not 0.0 <= float(arrays[3]) <= 1.0:
        raise InputError(path, f"frame {i}: 'blink' must be in [0, 1]")
    return tuple(arrays)


def read_image(path: Path, width: int, height: int, background) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGBA"), np.float32) / 255.0
    except (OSError, UnidentifiedImageError) as err:
        raise InputError(path, f"unreadable image ({str(err).splitlines()[0]})") from None
    if pixels.shape[:2] != (height, width):
        raise InputError(path, f"is {pixels.shape[1]}x{pixels.shape[0]}, not the index's {width}x{height}")
    alpha = pixels[..., 3:]
    rgb = pixels[..., :3] * alpha + np.asarray(background, np.float32) * (1 - alpha)
    return np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)


def clip(items: list, audio_dim: int, height: int, width: int) -> FrameClip:
    if not items:
        return FrameClip(np.zeros((0, height, width, 3), np.uint8), np.zeros((0, 4), np.float32),
                         np.zeros((0, 4, 4), np.float32), np.zeros((0, N_LANDMARKS, 3), np.float32),
                         np.zeros(0, np.float32), np.zeros((0, audio_dim), np.float32))
    images = np.stack([image for image, _ in items])
    columns = [np.stack(column) for column in zip(*(row for _, row in items))]
    return FrameClip(images, *columns)
