"""Audio and video through ffmpeg (subprocess, no shell): 16 kHz mono WAV out of any container, RGB
frames out of a video, and image sequences (VIDTIMIT's numbered JPEG files)."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np

from backend.audio import SAMPLE_RATE, find_ffmpeg
from backend.errors import InputError
from backend.fileio import atomic_path



def extract_audio(source: str | os.PathLike, out: str | os.PathLike) -> float:
    """Write `source`'s first audio stream as 16 kHz mono 16-bit WAV (atomically); return its seconds."""
    source = Path(source)
    with atomic_path(out) as tmp:
        command = [find_ffmpeg(needed_for="extracting audio"), "-nostdin", "-y", "-loglevel", "error", "-i", str(source), "-vn",
                   "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(tmp)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise InputError(source, f"ffmpeg could not extract audio: {done.stderr.strip()[-300:]}")
        import soundfile

        info = soundfile.info(tmp)
        if info.frames == 0:
            raise InputError(source, "the audio stream holds no samples")
        return info.frames / info.samplerate


def probe_video(path: Path) -> tuple[int, int, float]:
    """(width, height, fps) of the first video stream."""
    command = [find_ffmpeg("ffprobe", "reading video"), "-v", "error", "-select_streams", "v:0", "-show_entries",
               "stream=width,height,avg_frame_rate,r_frame_rate", "-of", "json", str(path)]
    done = subprocess.run(command, capture_output=True, text=True)
    streams = json.loads(done.stdout or "{}").get("streams", []) if done.returncode == 0 else []
    if not streams:
        raise InputError(path, "no video stream (is this a video file?)")
    stream = streams[0]
    rate = stream.get("avg_frame_rate") or stream.get("r_frame_rate") or "0/1"
    if rate in ("0/0", "0/1"):
        rate = stream.get("r_frame_rate", "25/1")
    numerator, denominator = (float(v) for v in rate.split("/"))
    return int(stream["width"]), int(stream["height"]), numerator / max(denominator, 1.0)


def read_video(path: str | os.PathLike) -> tuple[np.ndarray, float]:
    """(T, H, W, 3) uint8 RGB frames and the frame rate."""
    path = Path(path)
    width, height, fps = probe_video(path)
    command = [find_ffmpeg(needed_for="decoding video"), "-nostdin", "-loglevel", "error", "-i", str(path), "-an", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-"]
    done = subprocess.run(command, capture_output=True)
    if done.returncode != 0:
        raise InputError(path, f"ffmpeg could not decode the video: {done.stderr.decode(errors='replace')[-300:]}")
    frame_bytes = width * height * 3
    count = len(done.stdout) // frame_bytes
    if count == 0:
        raise InputError(path, "the video holds no frames")
    frames = np.frombuffer(done.stdout[: count * frame_bytes], dtype=np.uint8).reshape(count, height, width, 3)
    return frames, fps


def read_image_sequence(folder: str | os.PathLike, fps: float) -> tuple[np.ndarray, float]:
    """Frames from a folder of numbered image files (any names that sort numerically; JPEG or PNG)."""
    import cv2

    folder = Path(folder)
    files = sorted((p for p in folder.iterdir() if p.is_file() and p.name.split(".")[0].isdigit()),
                   key=lambda p: int(p.name.split(".")[0]))
    if not files:
        raise InputError(folder, "no numbered frame images in this folder")
    frames = []
    for file in files:
        image = cv2.imdecode(np.fromfile(file, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise InputError(file, "not a readable image")
        frames.append(image[:, :, ::-1])
    return np.stack(frames), fps
