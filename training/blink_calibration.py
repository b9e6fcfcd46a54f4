"""The blink model's rate calibration: the start logit's bias that makes blinks drawn from the model as
frequent as the training labels' blinks.

A blink model trained on per-frame start labels is a hazard that is rarely above a few percent; its drawn
rate is off by whatever the hazard's calibration is off by. The drawn rate grows with the bias, so a
bisection over it on the training utterances (the audio only: the model draws its own blinks, several
seeds each) finds the bias whose rate equals the labels'. The bias is stored in the model's config
(`blink_bias`); the weights are untouched.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

BIAS_RANGE = (-6.0, 6.0)
ITERATIONS = 14
SEEDS = (0, 1, 2)


def drawn_rate(runtime, smoothed: list[np.ndarray], bias: float, seeds=SEEDS) -> float:
    """Blink onsets per second drawn by `runtime` over the clips' smoothed audio, averaged over seeds."""
    frames = sum(len(s) for s in smoothed)
    onsets = sum(float(runtime.sample_blinks(s, 1000 * seed + i, bias)[1].sum())
                 for seed in seeds for i, s in enumerate(smoothed))
    return onsets / len(seeds) / (frames / runtime.spec.fps)


def calibrate_bias(runtime, smoothed: list[np.ndarray], target_per_s: float, iterations: int = ITERATIONS) -> float:
    """The bias in BIAS_RANGE whose drawn rate is closest to `target_per_s` (bisection: the rate rises with it)."""
    low, high = BIAS_RANGE
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        if drawn_rate(runtime, smoothed, middle) < target_per_s:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def calibrate_run(stem: str | Path, audios: list[np.ndarray], label_onsets: int, seconds: float) -> dict:
    """Calibrate the checkpoint at `stem` on training audio whose labels hold `label_onsets` blinks in
    `seconds`; rewrites its JSON with the bias and returns the rates before and after."""
    from backend import checkpoints
    from backend.fileio import write_text_atomic
    from backend.runtime.nerf_landmarks import NerfLandmarksRuntime

    runtime = NerfLandmarksRuntime.from_checkpoint(stem)
    smoothed = [runtime.smoothed_audio(audio) for audio in audios]
    target = label_onsets / seconds
    bias = calibrate_bias(runtime, smoothed, target)
    result = {"labels_per_10s": round(10 * target, 3),
              "uncalibrated_per_10s": round(10 * drawn_rate(runtime, smoothed, 0.0), 3),
              "calibrated_per_10s": round(10 * drawn_rate(runtime, smoothed, bias), 3), "blink_bias": round(bias, 4)}
    json_path = checkpoints.paths(stem)[1]
    record = json.loads(json_path.read_text())
    record["config"]["model"]["blink_bias"] = result["blink_bias"]
    record["config"].setdefault("about", {})["blink_calibration"] = result
    write_text_atomic(json_path, json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return result
