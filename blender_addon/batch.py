"""Batch entry for Blender: animate a head in a .blend from audio or text, save, optionally render.

    blender -b scene.blend --python blender_addon/batch.py -- --audio line.wav --object Head \\
        --out out.blend [--render out.mp4]

Works with the add-on installed or straight from a checkout. Exit code 0 on success; on bad input,
1 and one clear line on stderr.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a script by `blender --python`: load the package this file belongs to
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = Path(__file__).resolve().parent.name  # noqa: A001
    import importlib

    importlib.import_module(__package__)


@dataclass(frozen=True)
class BatchArgs:
    audio: str | None  # dialog audio file
    text: str | None  # or a line of text to synthesize
    transcript: str | None  # words spoken in the audio, if known
    object: str | None  # mesh with shape keys (default: the only one in the file)
    out: str  # .blend to write (never the opened file unless --overwrite)
    render: str | None  # MP4 to render with the audio muxed
    model: str
    language: str
    channel_map: str
    overwrite: bool


def parse_args(argv: list[str]) -> BatchArgs:
    parser = argparse.ArgumentParser(prog="blender -b FILE --python batch.py --")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio")
    source.add_argument("--text")
    parser.add_argument("--transcript")
    parser.add_argument("--object")
    parser.add_argument("--out", required=True)
    parser.add_argument("--render")
    parser.add_argument("--model", default="phonemes")
    parser.add_argument("--language", default="en")
    parser.add_argument("--channel-map", default="facewarehouse46",
                        choices=("facewarehouse46", "arkit52", "auto"))
    parser.add_argument("--overwrite", action="store_true")
    return BatchArgs(**vars(parser.parse_args(argv)))


def script_argv() -> list[str]:
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []


def main(argv: list[str]) -> int:
    import importlib

    render = importlib.import_module(".render", __package__)
    args = parse_args(argv)
    return render.run_reporting(lambda: render.animate_and_save(render.RenderArgs(
        audio=args.audio, text=args.text, transcript=args.transcript, blend=None, object=args.object,
        out_blend=args.out, out_video=args.render, model=args.model, language=args.language,
        channel_map=args.channel_map, overwrite=args.overwrite)))


if __name__ == "__main__":
    sys.exit(main(script_argv()))
