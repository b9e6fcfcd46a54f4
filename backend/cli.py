"""`mouthpiece` command line: animate, batch, models, render, score, lipsync, nerf render."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .errors import MouthpieceError

PROG = "mouthpiece"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Speech- and text-driven facial animation.")
    commands = parser.add_subparsers(dest="command", required=True)

    animate = commands.add_parser("animate", help="animate a line of dialog to Animation JSON/CSV/NPZ")
    source = animate.add_mutually_exclusive_group(required=True)
    source.add_argument("--audio", help="audio or video file, anything ffmpeg decodes (wav, flac, mp3, m4a, "
                                        "opus, mp4, ...)")
    source.add_argument("--text", help="text to speak (synthesized with espeak-ng) and animate")
    words = animate.add_mutually_exclusive_group()
    words.add_argument("--transcript", help="the words spoken in --audio")
    words.add_argument("--transcript-file", help="a text file holding the words spoken in --audio")
    animate.add_argument("--language", default="en", help="language code (en, es, any espeak-ng code)")
    animate.add_argument("--voice", help="espeak-ng voice for --text, or of the dtw aligner's reference speech "
                                         "(e.g. en-us, en+f3, es-419)")
    animate.add_argument("--aligner", default="auto", choices=("auto", "pocketsphinx", "dtw"),
                         help="audio aligner of the phonemes model: pocketsphinx (English), dtw (any espeak-ng "
                              "language, needs a transcript); auto picks by --language")
    animate.add_argument("--model", default="phonemes", help="model name (see `mouthpiece models`)")
    animate.add_argument("--fps", type=float, default=30.0, help="frames per second of the output (1 to 240)")
    animate.add_argument("--strength", type=float, default=1.0, help="gain on all channels (0 to 10)")
    animate.add_argument("--smoothing", type=float, default=0.0, help="Gaussian smoothing sigma in seconds (0 to 1)")
    animate.add_argument("--offset", type=float, default=0.0, help="time offset in seconds (+ delays; -600 to 600)")
    animate.add_argument("--no-blinks", action="store_true", help="leave out the procedural blink layer")
    animate.add_argument("--seed", type=int, default=0, help="seed for the blink layer")
    animate.add_argument("--out", required=True, help="output file: .json (the contract), .csv or .npz")
    animate.add_argument("--speech-out", help="with --text: write the synthesized speech to this WAV")
    animate.add_argument("--overwrite", action="store_true", help="replace existing output files")
    animate.add_argument("--quiet", action="store_true", help="no progress bar")

    commands.add_parser("models", help="list the models and whether each is usable")
    from .batch_cli import add_arguments as add_batch_arguments

    add_batch_arguments(commands.add_parser("batch", help="animate every line of a folder or CSV/JSON manifest"))
    from .score_cli import add_arguments as add_score_arguments

    lipsync = commands.add_parser("lipsync", help="redraw the lower face of a video to speak new audio (needs the "
                                                  "training extras: torch, mediapipe)")
    lipsync.add_argument("--video", required=True, help="a video with one face (real footage or a render)")
    lipsync.add_argument("--audio", required=True, help="the new line (anything ffmpeg decodes)")
    lipsync.add_argument("--out", required=True, help="the output video (.mp4)")
    lipsync.add_argument("--generator", help="generator checkpoint (default: assets/models/lipsync_gen/model)")
    lipsync.add_argument("--overwrite", action="store_true", help="replace an existing output")
    lipsync.add_argument("--quiet", action="store_true", help="no progress bar")
    add_score_arguments(commands.add_parser("score", help="how well a take is in sync: the lip-sync expert's "
                                                          "confidence, distance and best offset"))
    commands.add_parser("render", help="animate the default head and render an MP4 (needs bpy); "
                                       "`mouthpiece render --help` for options", add_help=False)
    from .nerf_cli import add_arguments as add_nerf_arguments

    add_nerf_arguments(commands.add_parser("nerf", help="the trained NeRF talking portrait: `nerf render`"))
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds like Ctrl-C: temporary files removed,
    workers stopped, the old output left as it was."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in and args_in[0] == "render":
        return run_render(args_in[1:])
    args = build_parser().parse_args(args_in)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main_thread else None
    try:
        return {"animate": run_animate, "models": run_models, "batch": run_batch,
                "score": run_score, "lipsync": run_lipsync, "nerf": run_nerf}[args.command](args)
    except MouthpieceError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # an output that cannot be written, or lost a race to another writer
        from .outputs import describe_os_error

        print(f"{PROG}: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as err:
        terminated = isinstance(err, Terminated)
        print(f"{PROG}: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_lipsync(args: argparse.Namespace) -> int:
    from .errors import InputError

    if Path(args.out).suffix.lower() != ".mp4":
        raise InputError(args.out, "lipsync writes .mp4 videos")
    try:
        from training.lipsync import lipsync, load_generator
    except ImportError as err:
        print(f"{PROG}: error: lipsync needs the training extras ({err.name} is missing): "
              "pip install -e '.[train]'", file=sys.stderr)
        return 1
    generator = args.generator or str(Path(__file__).resolve().parents[1] / "assets" / "models" / "lipsync_gen" / "model")
    from . import checkpoints

    if not checkpoints.paths(checkpoints.stem_of(generator))[1].is_file():
        raise InputError(generator, "no lip-sync generator here; train one with `mouthpiece-train lipsync-gen`")
    from tqdm import tqdm

    with tqdm(unit="frame", desc="lipsync", disable=args.quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        count = lipsync(args.video, args.audio, args.out, load_generator(generator), args.overwrite, progress)
    print(f"wrote {args.out}: {count} frames")
    return 0


def run_nerf(args: argparse.Namespace) -> int:
    from .nerf_cli import run

    return run(args)


def run_score(args: argparse.Namespace) -> int:
    from .score_cli import run

    return run(args)


def run_animate(args: argparse.Namespace) -> int:
    from .animation import WRITERS, save
    from .api import AnimateOptions, animate_audio, animate_text
    from .errors import InputError
    from .outputs import check_output, same_file
    from .post import PostOptions

    check_output(args.out, args.overwrite, tuple(WRITERS))
    if args.speech_out is not None:
        if not args.text:
            raise InputError(None, "--speech-out needs --text (it writes the synthesized speech)")
        if args.speech_out.strip() and same_file(args.speech_out, args.out):
            raise InputError(args.out, "--out and --speech-out name the same file; give two names")
        check_output(args.speech_out, args.overwrite, (".wav",), option="--speech-out")
    options = AnimateOptions(
        model=args.model, language=args.language, transcript=read_transcript(args), voice=args.voice,
        aligner=args.aligner, fps=args.fps,
        post=PostOptions(smoothing_s=args.smoothing, strength=args.strength, offset_s=args.offset,
                         blinks=not args.no_blinks, seed=args.seed))
    with progress_bar(disabled=args.quiet) as progress:
        if args.audio:
            anim = animate_audio(args.audio, options, progress)
        else:
            anim = animate_text(args.text, options, args.speech_out, progress)
    warn_low_alignment_confidence(anim.meta)
    if anim.meta.get("warning"):
        print(f"{PROG}: warning: {anim.meta['warning']}", file=sys.stderr)
    save(anim, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: {anim.n_frames} frames x {len(anim.channels)} channels at {anim.fps:g} fps "
          f"({anim.duration_s:.2f} s)", file=sys.stderr)
    return 0


def warn_low_alignment_confidence(meta: dict) -> None:
    from .alignment_confidence import confidence_warning

    warning = confidence_warning(meta.get("alignment_confidence"), meta.get("source"))
    if warning:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)


def read_transcript(args: argparse.Namespace) -> str | None:
    from .errors import InputError

    if args.transcript_file:
        path = Path(args.transcript_file)
        if path.is_dir():
            raise InputError(path, "is a folder, not a transcript file")
        if not path.is_file():
            raise InputError(path, "transcript file not found")
        try:
            return path.read_text("utf-8").strip()
        except UnicodeDecodeError:
            raise InputError(path, "transcript is not UTF-8 text") from None
    return args.transcript


def check_writable(path: str, overwrite: bool) -> None:
    from .outputs import check_output

    check_output(path, overwrite)


class progress_bar:
    """A tqdm bar on stderr fed by the backend's progress(fraction, message) callback."""

    def __init__(self, disabled: bool = False):
        self.disabled = disabled

    def __enter__(self):
        from tqdm import tqdm

        self.bar = tqdm(total=100, file=sys.stderr, disable=True if self.disabled else None, leave=False,
                        bar_format="{desc:<24}{percentage:3.0f}%|{bar}| {elapsed}")
        return self.update

    def update(self, fraction: float, message: str) -> None:
        self.bar.set_description_str(message[:24])
        self.bar.n = round(100 * min(max(fraction, 0.0), 1.0))
        self.bar.refresh()

    def __exit__(self, *exc) -> None:
        self.bar.close()


def run_batch(args: argparse.Namespace) -> int:
    from .batch_cli import run_batch as run

    return run(args)


def run_models(args: argparse.Namespace) -> int:
    from .models import get_model, model_names

    for name in model_names():
        try:
            model = get_model(name)
            usable, why = model.availability()
            description = model.info.description
        except (ImportError, MouthpieceError) as err:
            usable, why, description = False, str(err), ""
        print(f"{name:<10} {'ready' if usable else 'missing':<8} {why}" + (f"  [{description}]" if description else ""))
    return 0


def run_render(argv: list[str]) -> int:
    """Render through Blender-as-a-module in a child process, so this process never imports bpy."""
    import importlib.util

    if importlib.util.find_spec("bpy") is None:
        print(f"{PROG}: error: render needs Blender as a Python module in {sys.executable}: "
              "pip install -e '.[blender]' (bpy 4.5)", file=sys.stderr)
        return 1
    repo_root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(repo_root), os.environ.get("PYTHONPATH")])))
    return subprocess.call([sys.executable, "-m", "blender_addon.render", *argv], cwd=os.getcwd(), env=env)


if __name__ == "__main__":
    sys.exit(main())
