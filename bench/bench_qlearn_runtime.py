"""Inference speed of the Q-learning lip agent's numpy runtime (target: one minute of audio in 2 s or less).

    .venv/bin/python bench/bench_qlearn_runtime.py [--checkpoint assets/models/qlearn/model] [--repeats 3]

Prints seconds per minute of audio for the whole path (audio features, the frame-by-frame greedy
rollout, lip-landmark offsets), split into the convolutions and the rollout.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise shaped by a syllable-rate envelope: the runtime's cost does not depend on the words."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t), 0, None) ** 2
    return (0.3 * envelope * rng.standard_normal(t.size)).astype(np.float32)


def main() -> int:
    from backend.runtime.qlearn import QLearnRuntime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(REPO / "assets" / "models" / "qlearn" / "model"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    runtime = QLearnRuntime.from_checkpoint(args.checkpoint)
    audio = speech_like(args.seconds)
    n_frames = int(round(args.seconds * runtime.spec.fps))
    totals, features_s = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        runtime.audio_features(audio, n_frames)
        features_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        runtime.lip_displacements(runtime.predict_measures(audio))
        totals.append(time.perf_counter() - start)
    per_minute = 60.0 / args.seconds
    best, conv = min(totals) * per_minute, min(features_s) * per_minute
    print(f"checkpoint {args.checkpoint} (channels {runtime.spec.channels}, "
          f"{'with' if runtime.spec.observe_lips else 'without'} lip state)")
    print(f"one minute of audio: {best:.2f} s in all (convolutions {conv:.2f} s, rollout {best - conv:.2f} s); "
          f"target 2 s: {'met' if best <= 2.0 else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
