"""Render a scene's frame range to a video with the dialog muxed: camera, fast engine settings, per-frame
progress with an ETA, and a container that matches the file's extension."""
from __future__ import annotations

import contextlib
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bpy

from .backend.audio import find_ffmpeg
from .backend.errors import InputError, ToolError
from .backend.fileio import atomic_path

ENGINES = {"workbench": "BLENDER_WORKBENCH", "cycles": "CYCLES"}
CYCLES_SAMPLES = 16  # with the denoiser, enough for a preview of a talking head
RESOLUTION_RANGE = (16, 8192)
H264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
AAC = ["-c:a", "aac", "-b:a", "128k"]
# extension: (ffmpeg muxer, video codec options, audio codec options)
VIDEO_FORMATS = {
    ".mp4": ("mp4", H264, AAC),
    ".mov": ("mov", H264, AAC),
    ".mkv": ("matroska", H264, AAC),
    ".avi": ("avi", ["-c:v", "mpeg4", "-q:v", "2", "-pix_fmt", "yuv420p"], ["-c:a", "pcm_s16le"]),
}


def check_video_path(path: Path) -> None:
    if path.suffix.lower() not in VIDEO_FORMATS:
        raise InputError(path, f"unsupported video format {path.suffix or '(no extension)'!r}; "
                               f"use one of {', '.join(VIDEO_FORMATS)}")


def check_resolution(resolution: int) -> None:
    low, high = RESOLUTION_RANGE
    if not low <= resolution <= high or resolution % 2:
        raise InputError(None, f"--resolution {resolution}: give an even number of pixels from {low} to {high}")


def ensure_camera(scene: bpy.types.Scene, obj: bpy.types.Object) -> None:
    """Keep the file's camera; otherwise frame the head from the front (it looks toward -Y)."""
    if scene.camera is not None:
        return
    corners = [obj.matrix_world @ v.co for v in obj.data.vertices] if obj.data.vertices else [obj.location]
    low = [min(c[i] for c in corners) for i in range(3)]
    high = [max(c[i] for c in corners) for i in range(3)]
    center = [(a + b) / 2 for a, b in zip(low, high)]
    size = max(high[0] - low[0], high[2] - low[2], 1e-3)
    camera = bpy.data.objects.new("Mouthpiece Camera", bpy.data.cameras.new("Mouthpiece Camera"))
    camera.data.lens = 85.0
    distance = size * 1.2 * camera.data.lens / camera.data.sensor_width
    camera.location = (center[0], low[1] - distance, center[2])
    camera.rotation_euler = (math.pi / 2, 0.0, 0.0)
    scene.collection.objects.link(camera)
    scene.camera = camera


def configure_render(scene: bpy.types.Scene, engine: str, resolution: int, folder: str) -> None:
    if engine not in ENGINES:
        raise InputError(None, f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    scene.render.engine = ENGINES[engine]
    if engine == "workbench":
        scene.display.render_aa = "FXAA"  # one sample per pixel: previews stay fast on a CPU
    if engine == "cycles":
        configure_cycles(scene)
    scene.render.resolution_x = scene.render.resolution_y = int(resolution)
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = os.path.join(folder, "frame_")
    scene.render.use_file_extension = True


def configure_cycles(scene: bpy.types.Scene) -> None:
    scene.cycles.device = "CPU"
    scene.cycles.samples = CYCLES_SAMPLES
    if hasattr(scene.cycles, "use_adaptive_sampling"):
        scene.cycles.use_adaptive_sampling = True
    if denoiser_available():
        scene.cycles.use_denoising = True
        scene.cycles.denoiser = "OPENIMAGEDENOISE"


def denoiser_available() -> bool:
    """Whether this Blender's Cycles was built with OpenImageDenoise (not every Linux distribution's is)."""
    try:
        import _cycles
    except ImportError:
        return False
    return bool(getattr(_cycles, "with_openimagedenoise", False))


def render_video(scene, obj, out_video: Path, audio: str | None, engine: str, resolution: int) -> None:
    """Render PNG frames, then let ffmpeg encode them and mux the audio in one pass."""
    ffmpeg = find_ffmpeg(needed_for="writing the video")
    check_video_path(out_video)
    ensure_camera(scene, obj)
    with tempfile.TemporaryDirectory(prefix="mouthpiece-frames-") as folder:
        configure_render(scene, engine, resolution, folder)
        with FrameProgress(scene.frame_end - scene.frame_start + 1, engine):
            bpy.ops.render.render(animation=True)
        encode(ffmpeg, scene, folder, out_video, audio)


def encode(ffmpeg: str, scene, folder: str, out_video: Path, audio: str | None) -> None:
    muxer, video_codec, audio_codec = VIDEO_FORMATS[out_video.suffix.lower()]
    fps = scene.render.fps / scene.render.fps_base
    with atomic_path(out_video) as tmp:
        command = [ffmpeg, "-nostdin", "-y", "-loglevel", "error", "-framerate", f"{fps:g}",
                   "-start_number", str(scene.frame_start), "-i", os.path.join(folder, "frame_%04d.png")]
        if audio:
            command += ["-i", f"file:{Path(audio).resolve()}", *audio_codec, "-shortest"]
        command += [*video_codec, "-f", muxer, str(tmp)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ToolError(f"ffmpeg failed writing {out_video}: {done.stderr.strip()[-400:]}")


class FrameProgress:
    """A line per rendered frame on stderr (rewritten in place on a terminal) with the time left."""

    def __init__(self, total: int, engine: str):
        self.total, self.engine, self.done, self.started = max(1, total), engine, 0, 0.0

    def __enter__(self):
        self.started = time.monotonic()
        self.write(f"rendering {self.total} frames ({self.engine})")
        bpy.app.handlers.render_write.append(self.frame_written)
        return self

    def frame_written(self, *args) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done)
        self.write(f"frame {self.done}/{self.total} ({100 * self.done / self.total:3.0f}%), "
                   f"{format_seconds(elapsed)} elapsed, {format_seconds(left)} left")

    def write(self, text: str) -> None:
        live = sys.stderr.isatty()
        sys.stderr.write(("\r\033[K" if live else "") + text + ("" if live else "\n"))
        sys.stderr.flush()

    def __exit__(self, *exc) -> None:
        if self.frame_written in bpy.app.handlers.render_write:
            bpy.app.handlers.render_write.remove(self.frame_written)
        if sys.stderr.isatty():
            sys.stderr.write("\n")


def format_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


@contextlib.contextmanager
def blender_chatter_hidden():
    """Send what Blender's C code prints (file reads, saves, EGL warnings, per-frame lines) to a scratch file
    that is thrown away; Python's own prints keep the terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    streams = sys.stdout, sys.stderr
    sys.stdout = open(saved[1], "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")
    sys.stderr = open(saved[2], "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")
    try:
        with tempfile.TemporaryFile() as scratch:
            for fd in (1, 2):
                os.dup2(scratch.fileno(), fd)
            yield
    finally:
        flush_c_streams()  # what C code buffered goes to the scratch file, not to the restored terminal
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def flush_c_streams() -> None:
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)
