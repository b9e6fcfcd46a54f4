"""Speech-to-landmarks speed of the NeRF landmark side (target: one minute of audio in 2 s or less).

    .venv/bin/python bench/bench_nerf_landmarks.py [--checkpoint assets/models/nerf_landmarks/model] [--repeats 3]

Prints the seconds the numpy runtime takes for a minute of audio (noise-modulated tones: speed does not
depend on the content), split into the audio features (mel windows, AudioNet, smoother, VAE mean), the
blinks drawn frame by frame, and the transformer windows.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    from backend.errors import InputError
    from backend.models.nerf_landmarks import load
    from backend.runtime.nerf_landmarks import mel_windows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="", help="checkpoint path without suffix (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.checkpoint:
        os.environ["MOUTHPIECE_NERF_LANDMARKS"] = args.checkpoint
    try:
        runtime = load().runtime()
    except InputError as err:
        print(f"bench_nerf_landmarks: {err}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)
    t = np.arange(int(args.seconds * 16000)) / 16000
    audio = (0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
             + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    for _ in range(args.repeats):
        started = time.perf_counter()
        smoothed = runtime.smooth(runtime.audio_features(mel_windows(audio, runtime.spec)))
        latent = runtime.latent_mean(smoothed)
        featured = time.perf_counter()
        blink, _ = runtime.sample_blinks(smoothed, seed=0)
        blinked = time.perf_counter()
        runtime.offsets_mm(smoothed, latent, blink)
        done = time.perf_counter()
        print(f"{args.seconds:.0f} s of audio ({len(smoothed)} frames): {done - started:.2f} s "
              f"(features {featured - started:.2f}, blinks {blinked - featured:.2f}, transformer {done - blinked:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
