"""Lip-sync measures over the expert's embeddings (backend/runtime/sync_expert.py), numpy only.

V (N, D) holds video embeddings and A (M, D) audio embeddings; row i of each belongs to the same instant
(the 5-frame window starting at frame i, and the mel window of frame i). An audio-video offset k pairs
V[i] with A[i + k]: a positive k means the audio is late (the sound of what frame i shows comes k frames
later), a negative one that it is early. Shifting a take's audio by -k frames puts it in sync.

Video rows may come every `video_step` frames (SyncExpert.embed_faces(lower, step)): V row r is then the
window of frame r * video_step, still paired with A[r * video_step + k], so every offset keeps its pairs.

Distances are Euclidean between L2-normalised rows (0 for the same direction, sqrt(2) for orthogonal
ones, 2 at most), the distance LSE uses; each offset's mean is over the pairs it has (no padding).

- LSE-D: the smallest mean distance over the offsets; LSE-C: the median of those means minus LSE-D (the
  formulas of Wav2Lip's LSE scripts, over this expert's embeddings, so not comparable to SyncNet's numbers).
- Expert (the coursework's Table 4.1 measure): the mean, over windows taken every `step` frames, of
  -log(clip(d, 1e-3, 1)) with d the cosine similarity of the aligned rows; lower is better.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

D_FLOOR = 1e-3


class Lse(NamedTuple):
    distance: float
    """LSE-D: the smallest mean distance over the offsets"""
    confidence: float
    """LSE-C: the median mean distance minus LSE-D"""
    offset: int
    """the offset (frames) of the smallest mean distance; positive = audio late"""


class Curve(NamedTuple):
    start_s: np.ndarray
    """each window's start time"""
    confidence: np.ndarray
    """LSE-C within each window (NaN where it has no pairs)"""
    offset: np.ndarray
    """the best offset within each window"""


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (rows, size), not {x.shape}")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def offsets(max_shift: int) -> np.ndarray:
    """The offsets -max_shift..max_shift, in the order of every per-offset array here."""
    return np.arange(-max_shift, max_shift + 1)


def pair_distances(V: np.ndarray, A: np.ndarray, max_shift: int = 15, video_step: int = 1) -> np.ndarray:
    """(N, 2 max_shift + 1): the distance of V[r] to A[r video_step + k] for each offset k; NaN where A has
    no such row."""
    V, A = unit_rows(V), unit_rows(A)
    if V.shape[1] != A.shape[1]:
        raise ValueError(f"video embeddings of size {V.shape[1]} but audio ones of size {A.shape[1]}")
    if video_step < 1:
        raise ValueError(f"video_step must be 1 or more, not {video_step}")
    frames = np.arange(len(V)) * video_step
    out = np.full((len(V), 2 * max_shift + 1), np.nan)
    for column, k in enumerate(offsets(max_shift)):
        paired = (frames + k >= 0) & (frames + k < len(A))
        out[paired, column] = np.linalg.norm(V[paired] - A[frames[paired] + k], axis=1)
    return out


def mean_by_offset(distances: np.ndarray) -> np.ndarray:
    """The mean of each column over its pairs (NaN for a column with none)."""
    present = np.isfinite(distances)
    counts = present.sum(axis=0)
    sums = np.where(present, distances, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def offset_distances(V: np.ndarray, A: np.ndarray, max_shift: int = 15, video_step: int = 1) -> np.ndarray:
    """(2 max_shift + 1,) mean distance per offset -max_shift..max_shift (positive = audio late)."""
    return mean_by_offset(pair_distances(V, A, max_shift, video_step))


def lse_of(means: np.ndarray, max_shift: int) -> Lse:
    finite = np.isfinite(means)
    if not finite.any():
        raise ValueError("no video row has an audio row at any offset (empty embeddings?)")
    best = int(np.nanargmin(means))
    minimum = float(means[best])
    return Lse(minimum, float(np.median(means[finite])) - minimum, best - max_shift)


def lse(V: np.ndarray, A: np.ndarray, max_shift: int = 15, video_step: int = 1) -> Lse:
    """(LSE-D, LSE-C, best offset in frames) of a whole take."""
    return lse_of(offset_distances(V, A, max_shift, video_step), max_shift)


def expert_bce(V: np.ndarray, A: np.ndarray, step: int = 5) -> float:
    """The Expert measure: mean -log(clip(d, 1e-3, 1)) over aligned windows 0, step, 2 step, ..."""
    n = min(len(V), len(A))
    if n == 0:
        raise ValueError("no aligned windows to score")
    rows = np.arange(0, n, step)
    d = np.sum(unit_rows(V[rows]) * unit_rows(A[rows]), axis=1)
    return float(np.mean(-np.log(np.clip(d, D_FLOOR, 1.0))))


def confidence_curve(V: np.ndarray, A: np.ndarray, fps: float, window_s: float = 1.0,
                     max_shift: int = 15, video_step: int = 1) -> Curve:
    """LSE-C and the best offset of each `window_s` stretch of video rows (the last one may be shorter)."""
    distances = pair_distances(V, A, max_shift, video_step)
    window = np.floor(np.arange(len(V)) * video_step / (fps * window_s)).astype(np.int64)  # each row's window
    count = int(window[-1]) + 1 if len(window) else 0
    confidence = np.full(count, np.nan)
    best = np.zeros(count, np.int64)
    for i in range(count):
        means = mean_by_offset(distances[window == i])
        if np.isfinite(means).any():
            confidence[i], best[i] = lse_of(means, max_shift)[1:]
    return Curve(np.arange(count) * window_s, confidence, best)
