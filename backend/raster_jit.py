"""The face renderer's rasterizer compiled with numba, where numba is installed (the command line; Blender's
own Python lacks it and uses backend/facerender.py's numpy rasterizer). Same rule: pixel centres inside a
triangle, nearest depth wins."""
from __future__ import annotations

import math

import numpy as np
from numba import njit


def rasterize(xy: np.ndarray, depth: np.ndarray, triangles: np.ndarray, height: int, width: int
              ) -> tuple[np.ndarray, np.ndarray]:
    frames = xy.shape[0]
    owner = np.full((frames, height, width), -1, dtype=np.int64)
    bary = np.zeros((frames, height, width, 3), dtype=np.float32)
    _draw(np.ascontiguousarray(xy, dtype=np.float32), np.ascontiguousarray(depth, dtype=np.float32),
          np.ascontiguousarray(triangles, dtype=np.int64), owner, bary)
    return owner, bary


@njit(cache=True, nogil=True)
def _draw(xy, depth, triangles, owner, bary):  # pragma: no cover - compiled
    frames, height, width = owner.shape
    nearest = np.full((height, width), np.inf, dtype=np.float32)
    for t in range(frames):
        nearest[:] = np.inf
        for f in range(triangles.shape[0]):
            i0, i1, i2 = triangles[f, 0], triangles[f, 1], triangles[f, 2]
            x0, y0, x1, y1, x2, y2 = xy[t, i0, 0], xy[t, i0, 1], xy[t, i1, 0], xy[t, i1, 1], xy[t, i2, 0], xy[t, i2, 1]
            area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
            if abs(area) < 1e-9:
                continue
            left = max(int(math.ceil(min(x0, x1, x2) - 0.5)), 0)
            right = min(int(math.floor(max(x0, x1, x2) - 0.5)), width - 1)
            top = max(int(math.ceil(min(y0, y1, y2) - 0.5)), 0)
            bottom = min(int(math.floor(max(y0, y1, y2) - 0.5)), height - 1)
            for py in range(top, bottom + 1):
                cy = py + 0.5
                for px in range(left, right + 1):
                    cx = px + 0.5
                    b0 = ((x1 - cx) * (y2 - cy) - (x2 - cx) * (y1 - cy)) / area
                    b1 = ((x2 - cx) * (y0 - cy) - (x0 - cx) * (y2 - cy)) / area
                    b2 = 1.0 - b0 - b1
                    if b0 < 0 or b1 < 0 or b2 < 0:
                        continue
                    z = b0 * depth[t, i0] + b1 * depth[t, i1] + b2 * depth[t, i2]
                    if z < nearest[py, px]:
                        nearest[py, px] = z
                        owner[t, py, px] = f
                        bary[t, py, px, 0], bary[t, py, px, 1], bary[t, py, px, 2] = b0, b1, b2
