"""Speech-aware blinks for the corpus labels: when the eyes close, drawn from a seed stored with the utterance.

Blinks start as a Poisson process whose rate is higher in the phone timeline's silences (pauses and
phrase boundaries) than inside speech, with at least `min_gap_s` between two: about 17 a minute overall
for the corpus's sentences (7% silence), more where the speech pauses more. Each blink lasts 100-400 ms
and has the shape of the procedural blink layer's (backend.post.blink_pulse), stretched to its length
(backend.post.blink_track).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.phones import SILENCE, PhoneTimeline

BLINK_STREAM = 0xB11C  # keeps the blink draws apart from the other uses of an utterance's seed


@dataclass(frozen=True)
class BlinkRates:
    speech_per_min: float = 18.0
    silence_per_min: float = 80.0
    min_gap_s: float = 0.8
    duration_s: tuple[float, float] = (0.10, 0.40)


def blink_seed(utterance_seed: int) -> int:
    return int(np.random.SeedSequence([int(utterance_seed), BLINK_STREAM]).generate_state(1)[0])


def silence_mask(timeline: PhoneTimeline, times: np.ndarray) -> np.ndarray:
    """True at `times` outside every speech phone: silence phones, and before the first or after the last."""
    speech = [(p.start, p.end) for p in timeline.phones if p.label != SILENCE]
    silent = np.ones(len(times), dtype=bool)
    for start, end in speech:
        silent &= ~((times >= start) & (times < end))
    return silent


def blink_onsets(timeline: PhoneTimeline, duration_s: float, seed: int, rates: BlinkRates = BlinkRates(),
                 step_s: float = 0.01) -> list[tuple[float, float]]:
    """(start, length) in seconds of each blink: the moment the lids start to close, and how long it lasts."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, duration_s, step_s)
    rate_per_s = np.where(silence_mask(timeline, times), rates.silence_per_min, rates.speech_per_min) / 60.0
    draws = rng.random(len(times))
    blinks: list[tuple[float, float]] = []
    for t, rate, draw in zip(times, rate_per_s, draws):
        if blinks and t - blinks[-1][0] < rates.min_gap_s:
            continue
        if draw < rate * step_s:
            blinks.append((float(t), float(rng.uniform(*rates.duration_s))))
    return blinks


def onset_frames(blink: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """(T,) 1.0 at each frame where the closure first reaches `threshold`, else 0."""
    shut = np.asarray(blink) >= threshold
    previous = np.concatenate([[False], shut[:-1]])
    return (shut & ~previous).astype(np.float32)
