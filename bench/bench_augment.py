"""Augmentation cost: seconds of processing per second of audio for each effect and for a whole
`augment()` call with the default AugmentOptions, on training-sized crops of espeak-ng speech.

    .venv/bin/python bench/bench_augment.py [--crop-s 1.6] [--repeats 10]

Prints wall and CPU seconds (this process and its ffmpeg children) per second of audio. A data loader
worker spends about `augment (defaults)` times the crop length on each item, on top of the features.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.text.synthesis import synthesize  # noqa: E402
from training import augment as aug  # noqa: E402
from training import voice_augment as va  # noqa: E402

SAMPLE_RATE = 16000
TEXT = ("The quick brown fox jumps over the lazy dog, while seven wise owls watch quietly "
        "from the old oak tree beside the river.")


@dataclass(frozen=True)
class BenchArgs:
    crop_s: float = 1.6  # seconds per processed clip (training's --crop-s)
    repeats: int = 10  # clips per effect


@dataclass(frozen=True)
class Cost:
    wall: float
    cpu: float


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def speech_crops(crop_s: float, count: int) -> list[np.ndarray]:
    spoken = synthesize(TEXT, "en")
    audio = va.resample(spoken.audio.astype(np.float64), spoken.sample_rate, SAMPLE_RATE).astype(np.float32)
    length = int(crop_s * SAMPLE_RATE)
    starts = np.linspace(0, max(0, len(audio) - length), count).astype(int)
    return [va.fit_length(audio[s:s + length], length) for s in starts]


def effects() -> dict:
    rng = np.random.default_rng(0)
    room = aug.room_impulse(SAMPLE_RATE, 0.4, rng)
    defaults = aug.AugmentOptions()
    return {
        "tempo (librosa)": lambda x: aug.change_tempo(x, 1.05),
        "pitch (librosa)": lambda x: aug.shift_pitch(x, SAMPLE_RATE, 1.0),
        "WORLD resynthesis": lambda x: va.world_resynthesize(x, SAMPLE_RATE, va.WorldParams(3.0, 20.0, 1.1), rng),
        "reverb": lambda x: aug.add_reverb(x, room, 0.5),
        "noise": lambda x: aug.add_noise(x, aug.colored_noise(len(x), 1.0, rng), 15.0),
        "telephone band": lambda x: va.telephone_band(x, SAMPLE_RATE),
        "telephone, 8 kHz + mu-law": lambda x: va.telephone_band(x, SAMPLE_RATE, narrowband=True, mu_law=True),
        "mp3 16 kbps": lambda x: va.codec_round_trip(x, SAMPLE_RATE, "mp3", 16),
        "opus 12 kbps": lambda x: va.codec_round_trip(x, SAMPLE_RATE, "opus", 12),
        "augment (defaults)": lambda x: aug.augment(x, SAMPLE_RATE, defaults, rng).audio,
    }


def measure(effect, crops: list[np.ndarray]) -> Cost:
    effect(crops[0])  # warm up: imports, filter design, codec delay calibration
    wall, cpu = time.perf_counter(), cpu_seconds()
    for crop in crops:
        effect(crop)
    audio_s = sum(len(c) for c in crops) / SAMPLE_RATE
    return Cost((time.perf_counter() - wall) / audio_s, (cpu_seconds() - cpu) / audio_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop-s", type=float, default=BenchArgs.crop_s)
    parser.add_argument("--repeats", type=int, default=BenchArgs.repeats)
    args = BenchArgs(**vars(parser.parse_args()))
    crops = speech_crops(args.crop_s, args.repeats)
    print(f"{args.repeats} crops of {args.crop_s} s; seconds of processing per second of audio")
    print("| effect | wall s/s | CPU s/s |\n| --- | ---: | ---: |")
    for name, effect in effects().items():
        cost = measure(effect, crops)
        print(f"| {name} | {cost.wall:.4f} | {cost.cpu:.4f} |")


if __name__ == "__main__":
    main()
