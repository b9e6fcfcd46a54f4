"""`mouthpiece nerf render`: a trained NeRF talking portrait saying new audio (training/nerf/portrait.py)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROG = "mouthpiece"


def add_arguments(nerf: argparse.ArgumentParser) -> None:
    actions = nerf.add_subparsers(dest="nerf_command", required=True)
    render = actions.add_parser("render", help="render the trained portrait saying new audio: an MP4 with the "
                                               "audio and a PNG sequence (needs the training extras: torch)")
    render.add_argument("--identity", required=True, help="run folder of `mouthpiece-train nerf` (RUN/model.*)")
    render.add_argument("--audio", required=True, help="the line to say (anything ffmpeg decodes)")
    render.add_argument("--out", required=True, help="the output video (.mp4, 25 fps, H.264 with the audio)")
    render.add_argument("--frames-dir", help="folder for the PNG sequence 000001.png ... (default: OUT_frames "
                                             "next to the video)")
    render.add_argument("--landmarks-model", help="nerf-landmarks checkpoint (default: "
                                                  "assets/models/nerf_landmarks/model or $MOUTHPIECE_NERF_LANDMARKS)")
    render.add_argument("--training-frames", help="the run's frame folder, for runs that stored no camera")
    render.add_argument("--seed", type=int, default=0, help="seed for the drawn blinks")
    render.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where to render")
    render.add_argument("--overwrite", action="store_true", help="replace an existing video and PNG folder")
    render.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        import torch

        from training.nerf.portrait import default_frames_dir, render_portrait
    except ImportError as err:
        print(f"{PROG}: error: nerf render needs the training extras ({err.name} is missing): "
              "pip install -e '.[train]'", file=sys.stderr)
        return 1
    from tqdm import tqdm

    from .errors import InputError

    if args.device == "cuda" and not torch.cuda.is_available():
        raise InputError(None, "--device cuda: torch sees no CUDA device here")
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    bars = []  # opened at the first rendered frame, so that bad input leaves stderr one line

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="frame", desc="nerf render", disable=args.quiet))
        bars[0].update(done - bars[0].n)

    try:
        count = render_portrait(args.identity, args.audio, args.out, args.frames_dir, args.landmarks_model,
                                args.training_frames, args.seed, args.overwrite, device, progress)
    finally:
        for bar in bars:
            bar.close()
    print(f"wrote {args.out} and its PNG sequence in {args.frames_dir or default_frames_dir(Path(args.out))}: "
          f"{count} frames")
    return 0
