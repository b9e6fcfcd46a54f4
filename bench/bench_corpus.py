"""Corpus build speed: minutes of labelled speech per minute of wall time (no render), projected to one
hour of speech (target: at most 10 minutes on a 2-core machine), then rendered frames per second.

    .venv/bin/python bench/bench_corpus.py [--minutes 10] [--workers 2] [--render-seconds 4]

Builds into a temporary folder with the full voice catalogue (espeak-ng, festival, flite), so the mix
of engines is the one a default corpus has.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.corpus.build import BuildOptions, build  # noqa: E402
from training.corpus.manifest import read_manifest  # noqa: E402


@dataclass(frozen=True)
class Args:
    minutes: float = 10.0
    """Minutes of speech to build without render."""
    workers: int = 2
    """Worker processes."""
    render_seconds: float = 4.0
    """About this much speech is built again with --render, for the frames-per-second figure."""


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_build(options: BuildOptions) -> tuple[dict, float, float]:
    cpu, wall = cpu_seconds(), time.perf_counter()
    summary = build(options)
    return summary, time.perf_counter() - wall, cpu_seconds() - cpu


def bench_labels(args: Args, folder: Path) -> None:
    options = BuildOptions(folder / "labels", args.minutes, ("en", "es"), workers=args.workers, progress=False)
    summary, wall, cpu = timed_build(options)
    speech_s = summary["hours"] * 3600
    per_engine: dict[str, float] = defaultdict(float)
    for record in read_manifest(options.out):
        per_engine[record["engine"]] += record["duration_s"] / 60
    print(f"labelled speech (no render), {args.workers} workers, {summary['utterances']} utterances")
    print(f"  speech built         {speech_s / 60:8.2f} min  "
          f"({', '.join(f'{k} {v:.1f}' for k, v in sorted(per_engine.items()))})")
    print(f"  wall time            {wall:8.2f} s    CPU time {cpu:.2f} s")
    print(f"  speed                {speech_s / wall:8.1f} s of speech per wall second")
    print(f"  one hour of speech   {3600 / (speech_s / wall) / 60:8.2f} min wall  (target <= 10)")


def bench_render(args: Args, folder: Path) -> None:
    options = BuildOptions(folder / "render", args.render_seconds / 60, ("en",), voices=("espeak:en-us",),
                           workers=1, render=True, progress=False)
    summary, wall, cpu = timed_build(options)
    frames = sum(int(-(-r["duration_s"] * 25 // 1)) for r in read_manifest(options.out))
    print(f"render (--render, bpy Workbench 256x256 + 96x96 mouth crop, 1 worker)")
    print(f"  frames               {frames:8d}     in {wall:.1f} s wall (incl. labels and opening the head)")
    print(f"  rendered frames/s    {frames / wall:8.2f}     CPU time {cpu:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in vars(Args()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = Args(**vars(parser.parse_args()))
    with tempfile.TemporaryDirectory(prefix="mouthpiece-bench-corpus-") as folder:
        bench_labels(args, Path(folder))
        if args.render_seconds > 0:
            bench_render(args, Path(folder))


if __name__ == "__main__":
    main()
