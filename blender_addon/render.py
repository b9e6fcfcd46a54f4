"""`mouthpiece render`: animate a head from audio or text, save the .blend, render an MP4 with the audio.

    python -m blender_addon.render (--audio PATH [--transcript T] | --text T) --out-blend out.blend \\
        [--out-video out.mp4] [--blend FILE --object NAME] [--engine workbench|cycles] [--resolution 256]

Needs the `bpy` module (or runs inside Blender through batch.py). Exit code 0 on success; on bad input,
1 and one clear line on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy

from .apply import MapChoice
from .backend.errors import InputError, MouthpieceError, ToolError
from .backend.fileio import atomic_path
from .generation import GenerateRequest
from .headless import find_target, generate_take

HEAD_CANDIDATES = (Path(__file__).resolve().parent.parent / "assets" / "head.blend",
                   Path(__file__).resolve().parent / "assets" / "head.blend")
ENGINES = {"workbench": "BLENDER_WORKBENCH", "cycles": "CYCLES"}
CYCLES_SAMPLES = 16


@dataclass(frozen=True)
class RenderArgs:
    audio: str | None = None  # dialog audio file
    text: str | None = None  # or a line of text, synthesized to speech
    transcript: str | None = None  # words spoken in the audio, if known
    blend: str | None = None  # .blend holding the head (default: the Mouthpiece head; None in batch: the open file)
    object: str | None = None  # mesh to animate (default: the only mesh with shape keys)
    out_blend: str = "out/mouthpiece.blend"
    out_video: str | None = None  # MP4 with the audio muxed; no render without it
    model: str = "phonemes"
    language: str = "en"
    channel_map: str = "facewarehouse46"
    engine: str = "workbench"
    resolution: int = 256  # square frames, pixels per side
    overwrite: bool = False


def default_head() -> Path:
    for path in HEAD_CANDIDATES:
        if path.is_file():
            return path
    raise InputError(HEAD_CANDIDATES[0], "the default head is missing; pass --blend FILE --object NAME")


def open_blend(path: str | os.PathLike) -> None:
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "blend file not found")
    bpy.ops.wm.open_mainfile(filepath=str(path))


def output_path(path: str, overwrite: bool) -> Path:
    target = Path(path).resolve()
    if target.exists() and not overwrite:
        raise InputError(target, "already exists; pass --overwrite to replace it")
    return target


def make_request(args: RenderArgs, out_blend: Path, fps: float) -> GenerateRequest:
    if args.audio:
        return GenerateRequest(audio_path=str(Path(args.audio).resolve()), transcript=args.transcript or "",
                               language=args.language, model=args.model, fps=fps)
    speech = out_blend.with_name(out_blend.stem + "_speech.wav")
    return GenerateRequest(text=args.text or "", language=args.language, model=args.model, fps=fps,
                           speech_out=str(speech))


def save_blend(path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.unlink()  # Blender would keep an existing file as a .blend1 backup
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, relative_remap=False)


def animate_and_save(args: RenderArgs) -> int:
    """Open the head, write a take, fit the frame range, save the .blend and optionally render."""
    out_blend = output_path(args.out_blend, args.overwrite)
    out_video = output_path(args.out_video, args.overwrite) if args.out_video else None
    if args.blend or not bpy.app.background or not bpy.data.filepath:
        open_blend(args.blend or default_head())
    scene = bpy.context.scene
    obj = find_target(args.object)
    fps = scene.render.fps / scene.render.fps_base
    request = make_request(args, out_blend, fps)
    applied = generate_take(scene, obj, request, MapChoice(args.channel_map), progress=print_progress)
    scene.frame_end = scene.frame_start + max(1, math.ceil(applied.write.action.frame_range[1] - scene.frame_start))
    for line in applied.report_lines():
        print(f"warning: {line}", file=sys.stderr)
    save_blend(out_blend)
    print(f"wrote {out_blend} ({applied.write.keys_written} keys, frames {scene.frame_start}-{scene.frame_end})")
    if out_video:
        render_video(scene, obj, out_video, request.audio_path or request.speech_out, args)
        print(f"wrote {out_video}")
    return 0


def print_progress(fraction: float, message: str) -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr)


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
        scene.cycles.device = "CPU"
        scene.cycles.samples = CYCLES_SAMPLES
    scene.render.resolution_x = scene.render.resolution_y = int(resolution)
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = os.path.join(folder, "frame_")
    scene.render.use_file_extension = True


def render_video(scene, obj, out_video: Path, audio: str, args: RenderArgs) -> None:
    """Render PNG frames, then let ffmpeg encode H.264 and mux the audio in one pass."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise ToolError("ffmpeg is not installed; it is needed to write the MP4")
    ensure_camera(scene, obj)
    with tempfile.TemporaryDirectory(prefix="mouthpiece-frames-") as folder:
        configure_render(scene, args.engine, args.resolution, folder)
        frames = scene.frame_end - scene.frame_start + 1
        print_progress(0.0, f"rendering {frames} frames ({args.engine})")
        with stdout_silenced():
            bpy.ops.render.render(animation=True)
        fps = scene.render.fps / scene.render.fps_base
        with atomic_path(out_video) as tmp:
            command = [ffmpeg, "-y", "-loglevel", "error", "-framerate", f"{fps:g}",
                       "-start_number", str(scene.frame_start), "-i", os.path.join(folder, "frame_%04d.png")]
            if audio:
                command += ["-i", audio, "-c:a", "aac", "-b:a", "128k", "-shortest"]
            command += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mp4", str(tmp)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise ToolError(f"ffmpeg failed writing {out_video}: {done.stderr.strip()[-400:]}")


@contextlib.contextmanager
def stdout_silenced():
    """Blender prints two lines per rendered frame straight to fd 1; keep the terminal readable."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def parse_args(argv: list[str]) -> RenderArgs:
    parser = argparse.ArgumentParser(prog="mouthpiece render", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio", help="dialog audio file (wav, flac, ogg, mp3)")
    source.add_argument("--text", help="a line of text, synthesized to speech")
    parser.add_argument("--transcript", help="words spoken in the audio, if known")
    parser.add_argument("--blend", help=".blend holding the head (default: the Mouthpiece head)")
    parser.add_argument("--object", help="mesh to animate (default: the only mesh with shape keys)")
    parser.add_argument("--out-blend", required=True, help=".blend to write")
    parser.add_argument("--out-video", help="MP4 to render, with the audio muxed")
    parser.add_argument("--model", default="phonemes")
    parser.add_argument("--language", default="en")
    parser.add_argument("--channel-map", default="facewarehouse46", choices=("facewarehouse46", "arkit52", "auto"))
    parser.add_argument("--engine", default="workbench", choices=tuple(ENGINES))
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return RenderArgs(**vars(parser.parse_args(argv)))


def run_reporting(work) -> int:
    """Run `work`; a user-fixable problem becomes one line on stderr and exit code 1."""
    try:
        return work()
    except MouthpieceError as err:
        print(f"mouthpiece: error: {err}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_reporting(lambda: animate_and_save(args))


if __name__ == "__main__":
    sys.exit(main())
