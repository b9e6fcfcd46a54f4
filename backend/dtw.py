"""Dynamic time warping of two feature sequences, in a band, with one byte of memory per searched cell.

`warp` matches each row of one sequence (the recording) to a row of the other (the reference) along a
monotonic path; `band_limits` and `diagonal` describe the band it searches, `block_means` coarsens a
sequence for a first, cheap pass that places a narrow band for the full-resolution one.
"""
from __future__ import annotations

import numpy as np

COARSE_BLOCK = 5  # frames per row of a coarse pass


def diagonal(n: int, m: int) -> np.ndarray:
    """The straight line from the first cell to the last: a reference position per recording row."""
    return np.arange(n) * ((m - 1) / max(n - 1, 1))


def block_means(features: np.ndarray, block: int = COARSE_BLOCK) -> np.ndarray:
    """Means of consecutive blocks of rows (the last block may be shorter)."""
    starts = np.arange(0, len(features), block)
    return (np.add.reduceat(features, starts, axis=0) / np.diff(np.append(starts, len(features)))[:, None]
            ).astype(np.float32)


def band_limits(centre: np.ndarray, m: int, half_width: int) -> tuple[np.ndarray, np.ndarray]:
    """[lo, hi) reference rows each recording row may match: `half_width` either side of a rising centre
    line (a Sakoe-Chiba band when the line is the diagonal); the first and last cells always inside."""
    lo = np.clip(np.floor(centre - half_width), 0, m - 1).astype(np.int64)
    hi = np.clip(np.ceil(centre + half_width) + 1, 1, m).astype(np.int64)
    lo[0], hi[-1] = 0, m
    return lo, hi


def warp(recording: np.ndarray, reference: np.ndarray, lo: np.ndarray, hi: np.ndarray,
         off_diagonal_weight: float = 1.0, block_rows: int = 256) -> np.ndarray:
    """For each recording row, the reference row it matches: a non-decreasing path from 0 to m - 1.

    Row i may match reference rows lo[i] to hi[i] - 1 (both non-decreasing). Each recording row is matched
    exactly once; from one to the next the path holds on its reference row, steps to the next one, or
    skips some: the reference may run up to max(2, 1.5 m / n) times faster. Costs are Euclidean distances;
    a hold or a skip costs `off_diagonal_weight` times the distance. One byte of memory per cell of the band.
    """
    n, m = len(recording), len(reference)
    max_step = max(2, int(np.ceil(1.5 * m / max(n, 1))))
    steps = np.zeros((n, int((hi - lo).max())), np.int8)
    previous = np.full(m + max_step, np.inf, np.float32)  # the last row's totals, after max_step inf cells
    for first in range(0, n, block_rows):
        last = min(n, first + block_rows)
        column_0, column_end = int(lo[first:last].min()), int(hi[first:last].max())
        block = pairwise_distances(recording[first:last], reference[column_0:column_end])
        for i in range(first, last):
            a, b = lo[i] + max_step, hi[i] + max_step  # this row's cells in `previous`
            cost = block[i - first, lo[i] - column_0:hi[i] - column_0]
            if i == 0:  # the path enters at the first cell (lo[0] is 0)
                totals = np.full(b - a, np.inf, np.float32)
                totals[0] = cost[0]
                choice = np.ones(b - a, np.int8)
            else:
                totals, choice = _best_steps(previous, a, b, cost, off_diagonal_weight * cost, max_step)
                previous[lo[i - 1] + max_step:hi[i - 1] + max_step] = np.inf
            previous[a:b] = totals
            steps[i, :b - a] = choice
    return _backtrack(steps, lo, m)


def _best_steps(previous: np.ndarray, a: int, b: int, cost: np.ndarray, weighted: np.ndarray,
                max_step: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's cheapest total over the steps (a diagonal step first, then holds and skips)."""
    totals = previous[a - 1:b - 1] + cost
    choice = np.ones(b - a, np.int8)
    for k in range(max_step + 1):
        if k == 1:
            continue
        candidate = previous[a - k:b - k] + weighted
        better = candidate < totals
        totals = np.where(better, candidate, totals)
        choice[better] = k
    return totals, choice


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances."""
    squared = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0)).astype(np.float32)


def _backtrack(steps: np.ndarray, lo: np.ndarray, m: int) -> np.ndarray:
    path = np.zeros(len(steps), np.int64)
    j = m - 1
    for i in range(len(steps) - 1, -1, -1):
        path[i] = j
        j -= int(steps[i, j - lo[i]])
    return path
