"""Quality measures for blendshape animation (DESIGN §5): numpy only, on [T, 46] weights at one fps.

Temporal smoothness and self-smoothness follow Pham et al. (ICMI 2018), who compare how predictions
change from frame to frame: temporal smoothness error is the mean squared difference between the
predicted and the true frame-to-frame changes; self-smoothness is the mean squared frame-to-frame
change of the prediction alone (lower is smoother; the ground truth has its own value for reference).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

BILABIALS = ("P", "B", "M")
OPEN_VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY")
SPANISH_OPEN_VOWELS = ("A", "E", "O")
# espeak mnemonics, matched after the stress and length marks the articulation table strips too:
# p, b, m with nothing after but marks (the table's bilabial row); a, A, &, E, e, o, O, V, @ and variants.
ESPEAK_BILABIAL = r"[pbm]\W*"
ESPEAK_OPEN_VOWEL = r"[aA&EeoOV@].*"
ESPEAK_MARKS = re.compile(r"[',:;%=!]")
CLOSED_SHARE = 0.15  # a bilabial closes when the gap drops under 15% of the clip's largest
OPEN_SHARE = 0.40  # an open vowel opens when the gap exceeds 40% of it
CLOSURE_LEAD_S = 0.04  # closure may start 40 ms before the phone


def weight_mse(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean((predicted - truth) ** 2))


def lip_rmse_mm(predicted: np.ndarray, truth: np.ndarray, head) -> float:
    """RMS distance of the 20 lip landmarks (48-67) on the default head, in millimetres."""
    lips = list(range(48, 68))
    a = head.landmarks(predicted)[:, lips]
    b = head.landmarks(truth)[:, lips]
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=-1))) * 1000.0)


def temporal_smoothness_error(predicted: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean((np.diff(predicted, axis=0) - np.diff(truth, axis=0)) ** 2))


def self_smoothness(predicted: np.ndarray) -> float:
    return float(np.mean(np.diff(predicted, axis=0) ** 2))


@dataclass(frozen=True)
class SyncCounts:
    """Phone counts behind the real-speech sync score."""

    bilabials: int = 0
    closed: int = 0
    vowels: int = 0
    opened: int = 0

    def __add__(self, other: "SyncCounts") -> "SyncCounts":
        return SyncCounts(self.bilabials + other.bilabials, self.closed + other.closed,
                          self.vowels + other.vowels, self.opened + other.opened)

    @property
    def closure_rate(self) -> float:
        return self.closed / self.bilabials if self.bilabials else float("nan")

    @property
    def open_rate(self) -> float:
        return self.opened / self.vowels if self.vowels else float("nan")

    @property
    def score(self) -> float:
        return 0.5 * (self.closure_rate + self.open_rate)

    def row(self) -> dict:
        """The report's columns for these counts."""
        return {"bilabials": self.bilabials, "closure_rate": self.closure_rate, "open_vowels": self.vowels,
                "open_rate": self.open_rate, "sync_score": self.score}


@dataclass(frozen=True)
class SyncClasses:
    """Which labels of one phone set count as bilabials and as open vowels for the sync score."""

    phone_set: str
    bilabial: re.Pattern
    open_vowel: re.Pattern

    def key(self, label: str) -> str:
        if self.phone_set == "espeak":
            return ESPEAK_MARKS.sub("", label)
        return label.upper().rstrip("012")

    def is_bilabial(self, label: str) -> bool:
        return self.bilabial.fullmatch(self.key(label)) is not None

    def is_open_vowel(self, label: str) -> bool:
        return self.open_vowel.fullmatch(self.key(label)) is not None


def any_of(labels: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(label) for label in labels))


@lru_cache(maxsize=None)
def sync_phone_classes(phone_set: str) -> SyncClasses:
    """The bilabials and open vowels of 'arpabet', 'spanish' or 'espeak' (raw espeak-ng mnemonics)."""
    if phone_set == "arpabet":
        return SyncClasses(phone_set, any_of(BILABIALS), any_of(OPEN_VOWELS))
    if phone_set == "spanish":
        return SyncClasses(phone_set, any_of(BILABIALS), any_of(SPANISH_OPEN_VOWELS))
    if phone_set == "espeak":
        return SyncClasses(phone_set, re.compile(ESPEAK_BILABIAL), re.compile(ESPEAK_OPEN_VOWEL))
    raise ValueError(f"no sync phone classes for phone set {phone_set!r}")


def read_phones(path: str | Path) -> list[tuple[str, float, float]]:
    """(label, start_s, end_s) from a pocketsphinx-style .phone.json (words holding phones)."""
    data = json.loads(Path(path).read_text("utf-8"))
    phones = []
    for word in data.get("w", []):
        for phone in word.get("w", []):
            phones.append((phone["t"].upper(), float(phone["b"]), float(phone["b"]) + float(phone["d"])))
    return phones


def label_phones(labels: dict) -> tuple[list[tuple[str, float, float]], str]:
    """(label, start_s, end_s) of a labels NPZ's phones, and its phone set."""
    times = np.asarray(labels["phone_times"], dtype=np.float64).reshape(-1, 2)
    phones = [(str(label), float(start), float(end)) for label, (start, end) in zip(labels["phones"], times)]
    return phones, str(labels["phone_set"])


def frames_between(start_s: float, end_s: float, fps: float, n_frames: int) -> np.ndarray:
    """Frame indices with times in [start, end]; the nearest frame when none falls inside."""
    first = max(0, int(np.ceil(start_s * fps - 1e-9)))
    last = min(n_frames - 1, int(np.floor(end_s * fps + 1e-9)))
    if last < first:
        return np.array([min(n_frames - 1, max(0, int(round(0.5 * (start_s + end_s) * fps))))])
    return np.arange(first, last + 1)


def sync_counts(gap: np.ndarray, fps: float, phones: list[tuple[str, float, float]],
                classes: SyncClasses | None = None) -> SyncCounts:
    """Bilabial closures and open vowels of one clip, from its [T] inner-lip gap (ARPAbet phones unless
    `classes` says otherwise)."""
    classes = classes or sync_phone_classes("arpabet")
    largest = float(gap.max()) if gap.size else 0.0
    counts = SyncCounts()
    for label, start, end in phones:
        if classes.is_bilabial(label):
            window = gap[frames_between(start - CLOSURE_LEAD_S, end, fps, len(gap))]
            counts += SyncCounts(bilabials=1, closed=int(window.min() <= CLOSED_SHARE * largest))
        elif classes.is_open_vowel(label):
            quarter = 0.25 * (end - start)
            window = gap[frames_between(start + quarter, end - quarter, fps, len(gap))]
            counts += SyncCounts(vowels=1, opened=int(largest > 0 and window.max() > OPEN_SHARE * largest))
    return counts
