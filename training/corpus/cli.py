"""`mouthpiece-train corpus --out DIR --minutes M ...` builds (or resumes) the synthetic corpus;
`mouthpiece-train corpus report DIR` summarises one."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from backend.errors import MouthpieceError

from ..args import split_list


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mouthpiece-train corpus",
                                     description="Build the synthetic audiovisual corpus (resumable).")
    parser.add_argument("--out", required=True, type=Path, help="corpus folder (created, or resumed)")
    parser.add_argument("--minutes", required=True, type=float, help="minutes of speech to plan")
    parser.add_argument("--languages", default="en,es", help="comma-separated: en, es")
    parser.add_argument("--render", action="store_true", help="also render face frames and mouth crops")
    parser.add_argument("--identities", type=int, default=0,
                        help="with --render: faces 0..N-1 (assets/head/identity.py), one per utterance "
                             "(default 0: the default head only)")
    parser.add_argument("--vary-render", action="store_true",
                        help="with --render: each clip gets its own light, camera orbit, focal length and background")
    parser.add_argument("--no-blinks", action="store_true", help="labels without blinks (EyeBlink_L/R stay 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--voices", default="", help="comma-separated voice ids (default: the catalogue)")
    parser.add_argument("--voices-per-language", type=int, default=None,
                        help="use the first N catalogue voices of each language")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mouthpiece-train corpus report",
                                     description="Hours per voice, language and split; phone coverage; plots.")
    parser.add_argument("root", type=Path, help="corpus folder")
    parser.add_argument("--out", type=Path, default=None, help="report folder (default: ROOT/report)")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] == "report":
            return run_report(report_parser().parse_args(argv[1:]))
        return run_build(build_parser().parse_args(argv))
    except MouthpieceError as err:
        print(f"mouthpiece-train corpus: {err}", file=sys.stderr)
        return 1


def run_build(args: argparse.Namespace) -> int:
    from .build import BuildOptions, build

    if args.minutes <= 0:
        print("mouthpiece-train corpus: --minutes must be positive", file=sys.stderr)
        return 2
    options = BuildOptions(out=args.out, minutes=args.minutes, languages=split_list(args.languages),
                           seed=args.seed, workers=max(1, args.workers), render=args.render,
                           identities=args.identities, vary_render=args.vary_render,
                           blinks=not args.no_blinks,
                           voices=split_list(args.voices), voices_per_language=args.voices_per_language,
                           progress=not args.quiet)
    summary = build(options)
    print(f"{args.out}: {summary['utterances']} utterances, {summary['hours'] * 60:.1f} min of speech "
          f"({summary['built']} built now in {summary['elapsed_s']:.1f} s)")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from .report import write_report

    out = args.out or args.root / "report"
    summary = write_report(args.root, out)
    print(summary)
    return 0
