"""`mouthpiece-train import-dataset --kind ravdess|vidtimit|lrs3|grid --root DIR --out DIR`: convert a
real audiovisual dataset on disk into the corpus format (manifest, audio, landmark labels)."""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from backend.errors import MouthpieceError

from .landmarks import TRACKERS

KINDS = ("ravdess", "vidtimit", "lrs3", "grid")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mouthpiece-train import-dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--root", required=True, type=Path, help="the dataset's folder, in its own layout")
    parser.add_argument("--out", required=True, type=Path, help="corpus folder to write (or resume)")
    parser.add_argument("--tracker", default="auto", choices=TRACKERS,
                        help="landmark tracker (auto: face-alignment if its weights are cached, else mediapipe)")
    parser.add_argument("--limit", type=int, default=None, help="import only the first N clips")
    parser.add_argument("--seed", type=int, default=0, help="seed of the speaker split")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    from .importer import ImportOptions, import_clips

    try:
        if not args.root.is_dir():
            raise MouthpieceError(f"{args.root}: dataset folder not found")
        adapter = importlib.import_module(f".{args.kind}", __package__)
        options = ImportOptions(kind=args.kind, root=args.root, out=args.out, tracker=args.tracker,
                                seed=args.seed, limit=args.limit)
        summary = import_clips(adapter.find_clips(args.root), options, progress=not args.quiet)
    except MouthpieceError as err:
        print(f"mouthpiece-train import-dataset: {err}", file=sys.stderr)
        return 1
    print(f"{args.out}: {summary['utterances']} utterances from {summary['speakers']} speakers "
          f"({summary['written']} written now)")
    return 0
