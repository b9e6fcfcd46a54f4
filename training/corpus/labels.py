"""Per-utterance labels: 46 weights from the articulation rules (with a per-utterance style), the default
head's 68 landmarks in 3D and projected to 2D, and the engine's phone timings. Stored as one NPZ.

With blinks (corpora built since blinks were added): `blink` (T,) the eyelid closure in [0, 1], which also
drives EyeBlink_L/R in `weights` and so eye landmarks 36-47, and `blink_seed`, the seed it was drawn from
(training/corpus/blinks.py). Older corpora have neither: read them as never blinking (`blink_labels`)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from backend import headmodel
from backend.articulation import ArticulationStyle, articulate
from backend.fileio import atomic_path
from backend.phones import PhoneTimeline
from backend.post import BLINK_CHANNELS, blink_track

from .blinks import blink_onsets, blink_seed

LABEL_FPS = 100.0
LABEL_KEYS = ("fps", "weights", "landmarks3d", "landmarks2d", "phones", "phone_times", "phone_set")


@dataclass(frozen=True)
class StyleRange:
    """Ranges the per-utterance articulation style is drawn from, so models learn the audio, not one rule."""

    amplitude: tuple[float, float] = (0.75, 1.15)
    anticipation_s: tuple[float, float] = (0.02, 0.08)
    spread_s: tuple[float, float] = (0.03, 0.08)
    jitter_s: tuple[float, float] = (0.0, 0.015)


def draw_style(rng: np.random.Generator, seed: int, ranges: StyleRange = StyleRange()) -> ArticulationStyle:
    def draw(bounds: tuple[float, float]) -> float:
        return round(float(rng.uniform(*bounds)), 4)

    return ArticulationStyle(amplitude=draw(ranges.amplitude), anticipation_s=draw(ranges.anticipation_s),
                             spread_s=draw(ranges.spread_s), jitter_s=draw(ranges.jitter_s), seed=seed)


def label_frames(duration_s: float, fps: float = LABEL_FPS) -> int:
    """Label frames for a clip: frame i sits at time i / fps, and every frame lies inside the audio."""
    return max(1, int(np.ceil(duration_s * fps - 1e-9)))


def make_labels(timeline: PhoneTimeline, duration_s: float, style: ArticulationStyle,
                blinks: bool = True) -> dict[str, np.ndarray]:
    n_frames = label_frames(duration_s)
    animation = articulate(timeline, fps=LABEL_FPS, style=style, duration_s=duration_s)
    weights = np.clip(animation.values[:n_frames], 0.0, 1.0).astype(np.float32)
    if len(weights) < n_frames:
        weights = np.concatenate([weights, np.repeat(weights[-1:], n_frames - len(weights), axis=0)])
    extra: dict[str, np.ndarray] = {}
    if blinks:
        seed = blink_seed(style.seed)
        curve = blink_track(blink_onsets(timeline, duration_s, seed), n_frames, LABEL_FPS)
        for name in BLINK_CHANNELS:
            column = animation.channels.index(name)
            weights[:, column] = np.maximum(weights[:, column], curve)
        extra = {"blink": curve, "blink_seed": np.int64(seed)}
    head = headmodel.load()
    landmarks3d = head.landmarks(head.channel_weights(animation.channels, weights)).astype(np.float32)
    return {
        "fps": np.float32(LABEL_FPS),
        "weights": weights,
        "landmarks3d": landmarks3d,
        "landmarks2d": head.project(landmarks3d).astype(np.float32),
        "neutral3d": head.neutral.astype(np.float32),
        **extra,
        **timeline_arrays(timeline),
    }


def blink_labels(labels: dict[str, np.ndarray]) -> np.ndarray:
    """(T,) eyelid closure per label frame; zeros for labels made before blinks were added."""
    if "blink" in labels:
        return np.asarray(labels["blink"], dtype=np.float32)
    return np.zeros(len(labels["landmarks3d"]), dtype=np.float32)


def timeline_arrays(timeline: PhoneTimeline) -> dict[str, np.ndarray]:
    return {"phones": np.array([p.label for p in timeline.phones], dtype=str),
            "phone_times": np.array([[p.start, p.end] for p in timeline.phones], dtype=np.float32).reshape(-1, 2),
            "phone_set": np.array(timeline.phone_set)}


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())


def load_labels(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
