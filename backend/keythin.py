"""Fewer keys for the same curve: drop the keys a linearly interpolated curve can do without.

A thinned curve stays within `tolerance` of every original key. Between keys both curves are linear,
so their difference is largest at an original key, and the bound holds at every time in between.
"""
from __future__ import annotations

import numpy as np


def thin_keys(times: np.ndarray, values: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of the keys to keep (first and last always) so that linear interpolation through them
    is within `tolerance` of every (time, value); Ramer-Douglas-Peucker on the vertical error."""
    times = np.asarray(times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if times.shape != values.shape or times.ndim != 1:
        raise ValueError(f"times and values must be 1-D and alike, got {times.shape} and {values.shape}")
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance}")
    count = len(values)
    if count <= 2:
        return np.arange(count)
    keep = np.zeros(count, dtype=bool)
    keep[[0, -1]] = True
    spans = [(0, count - 1)]
    while spans:
        first, last = spans.pop()
        if last - first < 2:
            continue
        inner = slice(first + 1, last)
        slope = (values[last] - values[first]) / (times[last] - times[first])
        error = np.abs(values[inner] - (values[first] + slope * (times[inner] - times[first])))
        worst = int(np.argmax(error))
        if error[worst] > tolerance:
            split = first + 1 + worst
            keep[split] = True
            spans += [(first, split), (split, last)]
    return np.flatnonzero(keep)


def thinning_error(times: np.ndarray, values: np.ndarray, kept: np.ndarray) -> float:
    """Largest distance between the curve and its thinned version (linear through `kept`)."""
    times = np.asarray(times, dtype=np.float64)
    approx = np.interp(times, times[kept], np.asarray(values, dtype=np.float64)[kept])
    return float(np.abs(approx - values).max()) if len(times) else 0.0


def moving_columns(values: np.ndarray, tolerance: float = 0.0) -> np.ndarray:
    """Columns of `values` [frames x channels] that leave rest: some value farther than `tolerance` from 0."""
    values = np.asarray(values)
    if values.size == 0:
        return np.zeros(values.shape[1] if values.ndim == 2 else 0, dtype=bool)
    return np.abs(values).max(axis=0) > tolerance
