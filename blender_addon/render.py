"""`mouthpiece render`: animate a head from audio or text, save the .blend, render a video with the audio.

    python -m blender_addon.render (--audio PATH [--transcript T] | --text T) --out-blend out.blend \\
        [--out-video out.mp4|.mov|.mkv|.avi] [--blend FILE --object NAME] [--engine workbench|cycles] [--resolution 256]

Needs the `bpy` module (or runs inside Blender through batch.py). Exit code 0 on success; on bad input,
1 and one clear line on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy

from .apply import MapChoice
from .backend.errors import InputError, MouthpieceError
from .backend.fileio import atomic_path
from .generation import GenerateRequest
from .headless import find_target, generate_take
from .render_video import (ENGINES, blender_chatter_hidden, check_resolution, check_video_path, render_video)

HEAD_CANDIDATES = (Path(__file__).resolve().parent.parent / "assets" / "head.blend",
                   Path(__file__).resolve().parent / "assets" / "head.blend")
# A .blend starts with "BLENDER"; Blender also saves them gzip- or zstd-compressed.
BLEND_MAGICS = (b"BLENDER", b"\x1f\x8b", b"\x28\xb5\x2f\xfd")


@dataclass(frozen=True)
class RenderArgs:
    audio: str | None = None  # dialog audio file
    text: str | None = None  # or a line of text, synthesized to speech
    transcript: str | None = None  # words spoken in the audio, if known
    blend: str | None = None  # .blend holding the head (default: the Mouthpiece head; None in batch: the open file)
    object: str | None = None  # mesh to animate (default: the only mesh with shape keys)
    out_blend: str = "out/mouthpiece.blend"
    out_video: str | None = None  # .mp4/.mov/.mkv/.avi with the audio muxed; no render without it
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


def check_blend_file(path: Path) -> None:
    """Raise unless `path` is a file Blender can open as a .blend."""
    if not path.exists():
        raise InputError(path, "blend file not found")
    if not path.is_file():
        raise InputError(path, "is not a file; give a .blend")
    try:
        with open(path, "rb") as handle:
            magic = handle.read(8)
    except OSError as err:
        raise InputError(path, f"cannot be read ({err.strerror})") from None
    if not magic.startswith(BLEND_MAGICS):
        raise InputError(path, "is not a .blend file")


def open_blend(path: str | os.PathLike) -> None:
    path = Path(path)
    check_blend_file(path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the operator's report line
            bpy.ops.wm.open_mainfile(filepath=str(path))
    except RuntimeError as err:
        raise InputError(path, f"Blender cannot open it ({str(err).strip().splitlines()[-1]})") from None


def output_path(path: str, overwrite: bool, suffix: str | None = None) -> Path:
    """The resolved output path, refused unless it can be written (and replaced only with overwrite)."""
    target = Path(path).resolve()
    if suffix and target.suffix.lower() != suffix:
        raise InputError(target, f"must end in {suffix}")
    if target.is_dir():
        raise InputError(target, "is a folder; give a file name")
    if target.exists() and not overwrite:
        raise InputError(target, "already exists; pass --overwrite to replace it")
    check_folder_writable(target)
    return target


def check_folder_writable(target: Path) -> None:
    """Raise unless a file can be created beside `target` (its folder is made when missing)."""
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(target, f"cannot be written: {folder} is a file, not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as err:
        raise InputError(target, f"cannot be written ({err.strerror})") from None


def speech_path(args: RenderArgs, out_blend: Path) -> Path | None:
    """Text input: the synthesized speech beside the .blend, never replacing a file without overwrite."""
    if args.audio:
        return None
    return output_path(str(out_blend.with_name(out_blend.stem + "_speech.wav")), args.overwrite)


def make_request(args: RenderArgs, speech: Path | None, fps: float) -> GenerateRequest:
    if args.audio:
        return GenerateRequest(audio_path=str(Path(args.audio).resolve()), transcript=args.transcript or "",
                               language=args.language, model=args.model, fps=fps)
    return GenerateRequest(text=args.text or "", language=args.language, model=args.model, fps=fps,
                           speech_out=str(speech))


def save_blend(path: Path) -> None:
    try:
        with atomic_path(path) as tmp:
            tmp.unlink()  # Blender would keep an existing file as a .blend1 backup
            with contextlib.redirect_stdout(io.StringIO()):  # "Info: Saved copy as <temporary name>"
                bpy.ops.wm.save_as_mainfile(filepath=str(tmp), copy=True, relative_remap=False)
    except (OSError, RuntimeError) as err:
        raise InputError(path, f"cannot be written ({getattr(err, 'strerror', None) or err})") from None


def fit_frame_range(scene: bpy.types.Scene, action: bpy.types.Action) -> None:
    """End the scene where the take ends."""
    scene.frame_end = max(scene.frame_start + 1, math.ceil(action.frame_range[1]))


def check_outputs(args: RenderArgs) -> tuple[Path, Path | None, Path | None]:
    """Every output checked before any work: the .blend, the speech WAV (text input) and the video."""
    check_resolution(args.resolution)
    if args.out_video:
        check_video_path(Path(args.out_video))
    out_blend = output_path(args.out_blend, args.overwrite, ".blend")
    out_video = output_path(args.out_video, args.overwrite) if args.out_video else None
    return out_blend, speech_path(args, out_blend), out_video


def animate_and_save(args: RenderArgs) -> int:
    """Open the head, write a take, fit the frame range, save the .blend and optionally render."""
    out_blend, speech, out_video = check_outputs(args)
    if args.blend or not bpy.app.background or not bpy.data.filepath:
        open_blend(args.blend or default_head())
    scene = bpy.context.scene
    obj = find_target(args.object)
    fps = scene.render.fps / scene.render.fps_base
    request = make_request(args, speech, fps)
    applied = generate_take(scene, obj, request, MapChoice(args.channel_map), progress=print_progress)
    fit_frame_range(scene, applied.write.action)
    for line in applied.report_lines():
        print(f"warning: {line}", file=sys.stderr)
    save_blend(out_blend)
    print(f"wrote {out_blend} ({applied.write.keys_written} keys, frames {scene.frame_start}-{scene.frame_end})")
    if out_video:
        render_video(scene, obj, out_video, request.audio_path or request.speech_out, args.engine, args.resolution)
        print(f"wrote {out_video}")
    return 0


def print_progress(fraction: float, message: str) -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", file=sys.stderr)


def parse_args(argv: list[str]) -> RenderArgs:
    parser = argparse.ArgumentParser(prog="mouthpiece render", description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio", help="dialog audio file (anything ffmpeg decodes: wav, mp3, m4a, opus, ...)")
    source.add_argument("--text", help="a line of text, synthesized to speech")
    parser.add_argument("--transcript", help="words spoken in the audio, if known")
    parser.add_argument("--blend", help=".blend holding the head (default: the Mouthpiece head)")
    parser.add_argument("--object", help="mesh to animate (default: the only mesh with shape keys)")
    parser.add_argument("--out-blend", required=True, help=".blend to write")
    parser.add_argument("--out-video", help="video to render with the audio muxed: .mp4, .mov, .mkv or .avi")
    parser.add_argument("--model", default="phonemes")
    parser.add_argument("--language", default="en")
    parser.add_argument("--channel-map", default="facewarehouse46", choices=("facewarehouse46", "arkit52", "auto"))
    parser.add_argument("--engine", default="workbench", choices=tuple(ENGINES))
    parser.add_argument("--resolution", type=int, default=256, help="square frames, even, 16-8192 pixels")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return RenderArgs(**vars(parser.parse_args(argv)))


def run_reporting(work) -> int:
    """Run `work`; a user-fixable problem becomes one line on stderr and exit code 1."""
    try:
        return work()
    except MouthpieceError as err:
        print(f"mouthpiece: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mouthpiece: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with blender_chatter_hidden():
        return run_reporting(lambda: animate_and_save(args))


if __name__ == "__main__":
    sys.exit(main())
