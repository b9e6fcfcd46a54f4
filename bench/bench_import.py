"""Real-speech import speed: seconds of labelled speech per wall second, per kind of recording, projected
to one hour of real speech (target: at most 15 minutes on a 2-core machine).

    .venv/bin/python bench/bench_import.py [--root ../shared/data/realspeech] [--minutes 3] [--workers 2]

Takes about `--minutes` of each kind from the collection's manifest (evenly spaced): English with a
transcript (pocketsphinx alignment), English without one (two recognition searches, then alignment),
and other languages with a transcript (DTW against espeak-ng's synthesis), and imports each into a
temporary folder.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training.speech.build import SpeechImportOptions, import_speech  # noqa: E402
from training.speech.layouts import SpeechItem, read_layout  # noqa: E402

KINDS = {
    "English, transcript (pocketsphinx alignment)": lambda i: i.language == "en" and bool(i.transcript),
    "English, recognised (2 searches + alignment)": lambda i: i.language == "en" and not i.transcript,
    "Other languages, transcript (DTW)": lambda i: i.language != "en" and bool(i.transcript),
}


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def sample(items: list[SpeechItem], minutes: float) -> list[SpeechItem]:
    """Evenly spaced items whose durations add up to about `minutes`."""
    total = sum(i.seconds or 0.0 for i in items)
    if total <= minutes * 60:
        return items
    stride = total / (minutes * 60)
    return items[:: max(1, int(round(stride)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "realspeech"))
    parser.add_argument("--minutes", type=float, default=3.0, help="minutes of speech per kind")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    items = read_layout(args.root)
    print(f"| recordings | minutes | wall s | CPU s | speech s per wall s | one hour takes |")
    print("|---|---:|---:|---:|---:|---:|")
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory() as folder:
        for index, (kind, wanted) in enumerate(KINDS.items()):
            chosen = sample([i for i in items if wanted(i)], args.minutes)
            options = SpeechImportOptions(out=Path(folder) / f"k{index}", workers=args.workers, progress=False,
                                          min_confidence=0.0)
            cpu, wall = cpu_seconds(), time.perf_counter()
            summary = import_speech(chosen, options, f"{args.root}#{index}")
            wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
            speech_s = sum(i.seconds or 0.0 for i in chosen)
            totals[0] += speech_s
            totals[1] += wall
            print(f"| {kind}: {len(chosen)} ({summary['skipped_this_run']} skipped) | {speech_s / 60:.1f} | "
                  f"{wall:.1f} | {cpu:.1f} | {speech_s / wall:.2f} | {60 / (speech_s / wall):.1f} min |")
    print(f"| all | {totals[0] / 60:.1f} | {totals[1]:.1f} | | {totals[0] / totals[1]:.2f} | "
          f"{60 / (totals[0] / totals[1]):.1f} min (target <= 15) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
