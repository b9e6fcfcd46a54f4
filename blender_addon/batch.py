"""Batch entry for Blender: one line of dialog, or every line of a manifest, into .blend files.

    blender -b scene.blend --python blender_addon/batch.py -- --audio line.wav --object Head \\
        --out out.blend [--render out.mp4]
    blender -b --python blender_addon/batch.py -- lines.csv --out-dir out [--shard I/N]   # as `mouthpiece batch`
    python -m blender_addon.batch --jobs FILE      # the .blend stage of `mouthpiece batch`

Works with the add-on installed, straight from a checkout, or in a Python with the bpy module. Exit code 0
on success; 1 when anything failed, with one clear line per problem on stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as a script by `blender --python`: load the package this file belongs to
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = Path(__file__).resolve().parent.name  # noqa: A001
    import importlib

    importlib.import_module(__package__)

PROG = "mouthpiece"


@dataclass(frozen=True)
class BatchArgs:
    audio: str | None  # dialog audio file
    text: str | None  # or a line of text to synthesize
    transcript: str | None  # words spoken in the audio, if known
    object: str | None  # mesh with shape keys (default: the only one in the file)
    out: str  # .blend to write (never the opened file unless --overwrite)
    render: str | None  # video to render with the audio muxed
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
    """The script's own arguments: after `--` under Blender, all of them under `python -m`."""
    if "--" in sys.argv:
        return sys.argv[sys.argv.index("--") + 1:]
    return sys.argv[1:] if sys.argv and sys.argv[0].endswith(".py") else []


def run_one(argv: list[str]) -> int:
    render = _module("render")
    args = parse_args(argv)
    return render.run_reporting(lambda: render.animate_and_save(render.RenderArgs(
        audio=args.audio, text=args.text, transcript=args.transcript, blend=None, object=args.object,
        out_blend=args.out, out_video=args.render, model=args.model, language=args.language,
        channel_map=args.channel_map, overwrite=args.overwrite)))


def run_jobs(jobs_file: str) -> int:
    """Put every prepared animation into its .blend; a failing line is logged and the next one goes on."""
    batch = _module("backend.batch")
    spec = json.loads(Path(jobs_file).read_text("utf-8"))
    log = batch.DoneLog(spec["log"])
    failures = apply_jobs(spec["jobs"], log, spec["overwrite"], report=print_report)
    with open(spec["failures"], "a", encoding="utf-8") as handle:
        for line_id, problem in failures.items():
            handle.write(json.dumps({"id": line_id, "error": problem}) + "\n")
    return 1 if failures else 0


def print_report(text: str) -> None:
    print(_module("backend.batch_cli").REPORT_PREFIX + text, flush=True)


def apply_jobs(jobs: list[dict], log, overwrite: bool, report) -> dict[str, str]:
    render = _module("render")
    batch = _module("backend.batch")
    failures = {}
    for number, job in enumerate(jobs, 1):
        line = batch.Line(**job["line"])
        try:
            frames = apply_job(line, job, overwrite)
        except _module("backend.errors").MouthpieceError as err:
            failures[line.id] = str(err)
        except Exception as err:  # one broken line must not stop the others
            failures[line.id] = f"{type(err).__name__}: {err}".splitlines()[0]
        else:
            log.record(line, batch.STAGE_BLEND)
            report(f"[{number}/{len(jobs)}] wrote {line.out_blend} (frames {frames[0]}-{frames[1]})")
            continue
        report(f"[{number}/{len(jobs)}] {line.id} failed: {failures[line.id]}")
    return failures


def apply_job(line, job: dict, overwrite: bool) -> tuple[int, int]:
    """Open the line's head, write its take from its start frame with its sound, save its .blend."""
    import bpy

    render = _module("render")
    headless = _module("headless")
    animation = _module("backend.animation")
    apply = _module("apply")
    out_blend = render.output_path(line.out_blend, overwrite, ".blend")
    _module("backend.batch").remove_stale_temporaries(out_blend)
    render.open_blend(line.blend or render.default_head())
    scene = bpy.context.scene
    obj = headless.find_target(line.object)
    anim = animation.load_json(job["animation"])
    start = scene.frame_start if line.start_frame is None else line.start_frame
    label = Path(line.audio).name if line.audio else _module("generation").GenerateRequest(text=line.text).source_label
    applied = headless.place_take(scene, obj, anim, apply.MapChoice(line.channel_map), start, label,
                                  job.get("audio") or "")
    render.fit_frame_range(scene, applied.write.action)
    render.save_blend(out_blend)
    return scene.frame_start, scene.frame_end


def run_manifest(argv: list[str]) -> int:
    """`mouthpiece batch` inside this Blender: the animations here (one process unless --workers), then the
    .blend files, all in this one launch."""
    batch_cli = _module("backend.batch_cli")
    parser = argparse.ArgumentParser(prog="blender -b --python batch.py --")
    batch_cli.add_arguments(parser)
    parser.set_defaults(workers=1)
    args = parser.parse_args(argv)

    def here(jobs, log_path, overwrite, report):
        return apply_jobs(jobs, _module("backend.batch").DoneLog(log_path), overwrite, report)

    return _reporting(lambda: batch_cli.run_batch(args, blender_stage=here))


def _module(name: str):
    import importlib

    return importlib.import_module(f".{name}", __package__)


def _reporting(work) -> int:
    from .backend.errors import MouthpieceError

    try:
        return work()
    except MouthpieceError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    """Any failure, including a Blender whose Python lacks the backend's modules, exits non-zero."""
    try:
        if "--jobs" in argv:
            return run_jobs(argv[argv.index("--jobs") + 1])
        if "--out-dir" in argv:
            return run_manifest(argv)
        return run_one(argv)
    except ImportError as err:
        print(f"{PROG}: error: this Blender's Python lacks a module Mouthpiece needs ({err}); use a Blender "
              "that bundles numpy (blender.org builds do), or install it for this one", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(script_argv()))
