"""`mouthpiece lipsync`: redraw the lower face of a video so that it speaks new audio (Wav2Lip-style).

The face is tracked in every frame (MediaPipe Face Mesh -> 68 landmarks), its box smoothed over five
frames and cut to a 96x96 crop; a generator redraws each crop's lower half from the masked crop, K
reference crops of the same video and the frame's 80x16 mel window (centred: it starts two 25 fps frames
early); the result is resized back into the box and blended with the generator's mask. ffmpeg writes the
frames at the input's rate with the new audio, cut or padded to the video's length, into a temporary file
that replaces the output only when complete.

A generator is any callable (crops [N, 96, 96, 3] uint8, references [K, 96, 96, 3] uint8, mels [N, 80, 16])
-> (rgb [N, 96, 96, 3] uint8, mask [N, 96, 96] float in [0, 1]); `copy_input` returns the crops unchanged (the
evaluation's copy-input row, and a dry run of the pipeline).
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from backend import wav2lip_mel
from backend.errors import InputError, ToolError
from backend.facecrop import crop_faces
from backend.facerender import CROP_SIZE, CropBox

Generator = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
BATCH = 32
REFERENCES = 10


@dataclass(frozen=True)
class Footage:
    frames: np.ndarray  # [T, H, W, 3] uint8 RGB
    fps: float
    boxes: list  # [T] CropBox of the whole 96x96 crop


def copy_input(crops: np.ndarray, references: np.ndarray, mels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return crops, np.zeros(crops.shape[:3], dtype=np.float32)


def track_faces(frames: np.ndarray, source, tracker=None) -> list:
    """Each frame's face box (whole crop), from tracked landmarks, smoothed over five frames."""
    from .datasets.landmarks import fill_missing, make_tracker
    from .faces_set import smoothed_boxes

    points, found = (tracker or make_tracker()).track(frames)
    landmarks = fill_missing(points, found, source)[..., :2]
    return [CropBox(b.x0, b.y0, b.x1, b.y1, (0, CROP_SIZE)) for b in smoothed_boxes(landmarks)]


def read_footage(path: Path, tracker=None) -> Footage:
    from .datasets.media import read_video

    if not path.is_file():
        raise InputError(path, "video not found")
    frames, fps = read_video(path)
    return Footage(frames, fps, track_faces(frames, path, tracker))


def frame_mels(audio: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """[n_frames, 80, 16]: the mel window centred on each video frame (two 25 fps frames before it)."""
    mel = wav2lip_mel.log_mel(audio)
    starts = np.round((np.arange(n_frames) / fps - 2 / 25.0) * 80.0).astype(int)
    return wav2lip_mel.windows_at(mel, np.clip(starts, 0, None))


def reference_crops(crops: np.ndarray, count: int = REFERENCES, seed: int = 0) -> np.ndarray:
    """K crops of the video, each cluster's frame nearest its KMeans centroid (as in training), empty
    clusters filled with jittered copies."""
    from .lipsync_data import cluster_frames, pick_references, reference_images

    labels, distance = cluster_frames(crops, count, seed)
    picks = pick_references(labels, distance, count, range(0))
    return reference_images(crops, picks, np.random.default_rng(seed))


def load_generator(stem: str | os.PathLike) -> Generator:
    """A trained lip-sync generator (`mouthpiece-train lipsync-gen`) as a Generator callable (torch, CPU)."""
    import torch

    from backend import checkpoints

    from .families.lipsync_gen import FAMILY, LipsyncGenConfig, mask_lower_half
    from .families.lipsync_losses import BLEND_KERNEL, BLEND_SIGMA, gaussian_blur
    from .lipsync_data import prepare_references

    saved = checkpoints.load(checkpoints.stem_of(stem), family=FAMILY.name)
    model = FAMILY.build(LipsyncGenConfig.from_dict(saved.config["model"]))
    model.load_state_dict({name: torch.from_numpy(value) for name, value in saved.tensors.items()})
    model.eval()

    def generate(crops: np.ndarray, references: np.ndarray, mels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            frames = torch.from_numpy(crops.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
            refs = torch.from_numpy(prepare_references(references))[None]
            audio = torch.from_numpy(np.ascontiguousarray(mels, dtype=np.float32))[:, None]
            rgb, mask = model(mask_lower_half(frames), refs.expand(1, *refs.shape[1:]), audio)
            if mask is None:
                mask = torch.ones_like(rgb[:, :1])
            soft = gaussian_blur(mask, BLEND_KERNEL, BLEND_SIGMA)[:, 0]  # blended as in training
        rgb_u8 = np.clip(np.round(rgb.permute(0, 2, 3, 1).numpy() * 255.0), 0, 255).astype(np.uint8)
        return rgb_u8, soft.numpy().astype(np.float32)

    return generate


def paste(frame: np.ndarray, box: CropBox, rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The frame with the generated crop blended into its box through the mask (both resized to the box)."""
    height, width = frame.shape[:2]
    x0, y0 = max(0, int(np.floor(box.x0))), max(0, int(np.floor(box.y0)))
    x1, y1 = min(width, int(np.ceil(box.x1))), min(height, int(np.ceil(box.y1)))
    if x1 <= x0 or y1 <= y0:
        return frame
    ys = ((np.arange(y0, y1) + 0.5 - box.y0) / (box.y1 - box.y0) * CROP_SIZE - 0.5).clip(0, CROP_SIZE - 1)
    xs = ((np.arange(x0, x1) + 0.5 - box.x0) / (box.x1 - box.x0) * CROP_SIZE - 0.5).clip(0, CROP_SIZE - 1)
    nearest_y, nearest_x = np.round(ys).astype(int), np.round(xs).astype(int)
    patch = rgb[nearest_y][:, nearest_x].astype(np.float32)
    alpha = mask[nearest_y][:, nearest_x][..., None]
    out = frame.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(np.round(alpha * patch + (1 - alpha) * region), 0, 255).astype(np.uint8)
    return out


def lipsync_frames(footage: Footage, audio: np.ndarray, generator: Generator, progress=None) -> np.ndarray:
    """The footage's frames with every face's lower half redrawn for `audio` (16 kHz mono)."""
    crops = np.concatenate([crop_faces(footage.frames[i:i + 1], box) for i, box in enumerate(footage.boxes)])
    references = reference_crops(crops)
    mels = frame_mels(audio, len(crops), footage.fps)
    out = np.empty_like(footage.frames)
    for start in range(0, len(crops), BATCH):
        part = slice(start, start + BATCH)
        rgb, mask = generator(crops[part], references, mels[part])
        for offset, (image, alpha) in enumerate(zip(rgb, mask)):
            i = start + offset
            out[i] = paste(footage.frames[i], footage.boxes[i], image, alpha)
        if progress is not None:
            progress(min(len(crops), start + BATCH), len(crops))
    return out


def write_video(frames: np.ndarray, fps: float, audio_path: str, out: Path, overwrite: bool) -> None:
    """H.264 + AAC at `fps`, the audio cut or padded to the frames' length; the output appears atomically."""
    from backend.audio import find_ffmpeg
    from backend.fileio import atomic_path

    if out.exists() and not overwrite:
        raise InputError(out, "exists; pass --overwrite to replace it")
    height, width = frames.shape[1:3]
    duration = len(frames) / fps
    with atomic_path(out) as tmp:
        command = [find_ffmpeg(needed_for="writing the video"), "-nostdin", "-y", "-loglevel", "error",
                   "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:.6g}", "-i", "-",
                   "-i", audio_path, "-map", "0:v", "-map", "1:a", "-af", f"apad,atrim=0:{duration:.6f}",
                   "-c:v", "libx264", "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                   "-c:a", "aac", "-f", "mp4", str(tmp)]
        done = subprocess.run(command, input=np.ascontiguousarray(frames).tobytes(), capture_output=True)
        if done.returncode != 0:
            raise ToolError(f"ffmpeg failed writing {out}: {done.stderr.decode(errors='replace').strip()[-300:]}")


def lipsync(video: str | os.PathLike, audio: str | os.PathLike, out: str | os.PathLike, generator: Generator,
            overwrite: bool = False, progress=None, tracker=None) -> int:
    """Lip-sync `video` to `audio` into `out` (MP4); returns the number of frames written."""
    from backend.audio import load_audio

    out = Path(out)
    if out.exists() and not overwrite:
        raise InputError(out, "exists; pass --overwrite to replace it")
    samples = load_audio(audio)
    footage = read_footage(Path(video), tracker)
    frames = lipsync_frames(footage, samples, generator, progress)
    write_video(frames, footage.fps, os.fspath(audio), out, overwrite)
    return len(frames)
