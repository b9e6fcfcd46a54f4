"""Speed of the phoneme path on the librivox clips: seconds of processing per second of audio.

Rows: recognition with pocketsphinx's default search against the tuned one (with word error rates), forced
alignment with the transcript, recognition + alignment without one (backend.align directly), the same two
end to end through backend.api.animate_audio, and long audio (the clips joined) decoded in one process
against the process pool. CPU time is this process's own (n/a where pool workers decode).

    .venv/bin/python bench/bench_phonemes.py [--repeats 3] [--long-copies 4]
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.align import (RECOGNITION_CONFIG, AlignOptions, align, prepare_pcm, recognize,  # noqa: E402
                           transcribe_and_align)
from backend.text.normalize import normalize_transcript  # noqa: E402
from backend.audio import SAMPLE_RATE, load_audio  # noqa: E402

LIBRIVOX = Path(__file__).resolve().parents[2] / "shared" / "data" / "librivox"


@dataclass(frozen=True)
class Args:
    clips: Path = LIBRIVOX
    """Folder of .wav clips with .txt transcripts."""
    repeats: int = 3
    """Timed passes over the clips (the best pass is reported, after one untimed warm-up)."""
    long_copies: int = 4
    """The long-audio rows join all clips this many times over."""


@dataclass(frozen=True)
class Row:
    name: str
    audio_s: float
    wall_s: float
    cpu_s: float | None  # None where pool workers did the work: their CPU time is not visible here
    note: str = ""

    def line(self) -> str:
        cpu = "n/a" if self.cpu_s is None else f"{self.cpu_s / self.audio_s:.4f}"
        return (f"{self.name:<44} {self.audio_s:8.1f} {self.wall_s:8.2f} {self.wall_s / self.audio_s:9.4f} "
                f"{self.audio_s / self.wall_s:8.1f}x {cpu:>9}  {self.note}")


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def timed(name: str, audio_s: float, work: Callable[[], object], repeats: int, in_process: bool = True,
          score: Callable[[object], str] | None = None) -> Row:
    result = work()  # warm-up: loads the decoders, starts pool workers
    best = None
    for _ in range(repeats):
        cpu, wall = cpu_seconds(), time.perf_counter()
        work()
        row = Row(name, audio_s, time.perf_counter() - wall, cpu_seconds() - cpu if in_process else None,
                  score(result) if score else "")
        best = row if best is None or row.wall_s < best.wall_s else best
    return best


def word_error_rate(hypotheses: list[str], references: list[str]) -> str:
    errors = words = 0
    for hypothesis, reference in zip(hypotheses, references):
        hyp, ref = hypothesis.split(), normalize_transcript(reference)
        row = list(range(len(hyp) + 1))
        for i, ref_word in enumerate(ref, 1):
            previous, row = row, [i] + [0] * len(hyp)
            for j, hyp_word in enumerate(hyp, 1):
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (hyp_word != ref_word))
        errors, words = errors + row[-1], words + len(ref)
    return f"WER {errors / words:.3f}"


def recognize_with(config: dict) -> Callable[[np.ndarray], str]:
    """Recognition through a decoder of our own: the same work with pocketsphinx's default settings."""
    import pocketsphinx

    decoder = pocketsphinx.Decoder(loglevel="FATAL", **config)

    def run(audio: np.ndarray) -> str:
        decoder.start_utt()
        decoder.process_raw(prepare_pcm(audio, SAMPLE_RATE).tobytes(), full_utt=True)
        decoder.end_utt()
        return decoder.hyp().hypstr if decoder.hyp() else ""
    return run


def bench(args: Args) -> list[Row]:
    clips = sorted(args.clips.glob("*.wav"))
    if not clips:
        raise SystemExit(f"{args.clips}: no .wav clips to bench")
    audio = [load_audio(c, SAMPLE_RATE) for c in clips]
    texts = [c.with_suffix(".txt").read_text(encoding="utf-8") for c in clips]
    total_s = sum(len(a) for a in audio) / SAMPLE_RATE
    one = AlignOptions(workers=1)

    def each(function: Callable[[int], object]) -> Callable[[], None]:
        return lambda: [function(i) for i in range(len(clips))]

    slow, tuned = recognize_with({}), recognize_with(RECOGNITION_CONFIG)

    def wer(hypotheses: list[str]) -> str:
        return word_error_rate(hypotheses, texts)

    rows = [
        timed("recognize, pocketsphinx defaults", total_s, lambda: [slow(a) for a in audio], args.repeats,
              score=wer),
        timed("recognize, tuned search", total_s, lambda: [tuned(a) for a in audio], args.repeats, score=wer),
        timed("backend.align.recognize", total_s, lambda: [recognize(a, SAMPLE_RATE, options=one) for a in audio],
              args.repeats, score=wer),
        timed("align (transcript), per clip", total_s,
              each(lambda i: align(audio[i], SAMPLE_RATE, texts[i], options=one)), args.repeats),
        timed("transcribe_and_align (no transcript)", total_s,
              each(lambda i: transcribe_and_align(audio[i], SAMPLE_RATE, options=one)), args.repeats),
    ]
    rows += end_to_end_rows(clips, texts, total_s, args.repeats)
    joined = np.concatenate(audio * args.long_copies)
    joined_text = " ".join(texts * args.long_copies)
    long_s = len(joined) / SAMPLE_RATE
    pool = AlignOptions(workers=os.cpu_count() or 1)
    for label, options in (("1 process", one), (f"pool of {pool.workers}", pool)):
        in_process = options.workers == 1
        rows.append(timed(f"long align, {label}", long_s,
                          lambda o=options: align(joined, SAMPLE_RATE, joined_text, options=o), 1, in_process))
        rows.append(timed(f"long transcribe_and_align, {label}", long_s,
                          lambda o=options: transcribe_and_align(joined, SAMPLE_RATE, options=o), 1, in_process))
    return rows


def end_to_end_rows(clips: list[Path], texts: list[str], total_s: float, repeats: int) -> list[Row]:
    try:
        from backend.api import AnimateOptions, animate_audio
    except ImportError as exc:
        print(f"end to end skipped: {exc}")
        return []
    with_text = [AnimateOptions(model="phonemes", transcript=t) for t in texts]
    without = AnimateOptions(model="phonemes")
    return [
        timed("animate_audio (transcript), end to end", total_s,
              lambda: [animate_audio(c, o) for c, o in zip(clips, with_text)], repeats),
        timed("animate_audio (no transcript), end to end", total_s,
              lambda: [animate_audio(c, without) for c in clips], repeats),
    ]


def parse_args() -> Args:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=Args.clips)
    parser.add_argument("--repeats", type=int, default=Args.repeats)
    parser.add_argument("--long-copies", type=int, default=Args.long_copies)
    ns = parser.parse_args()
    return Args(clips=ns.clips, repeats=ns.repeats, long_copies=ns.long_copies)


def main() -> None:
    args = parse_args()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.2f} at start")
    rows = bench(args)
    print(f"\n{'path':<44} {'audio s':>8} {'wall s':>8} {'s per s':>9} {'speed':>9} {'cpu s/s':>9}")
    for row in rows:
        print(row.line())
    print(f"\nload average {os.getloadavg()[0]:.2f} at end (other work on these cores slows the wall figures)")


if __name__ == "__main__":
    main()
