"""Face crops of video frames: a face box resampled to 96x96 (bilinear), as the lip-sync networks see faces."""
from __future__ import annotations

import numpy as np

from .facerender import CROP_SIZE, CropBox


def crop_faces(frames: np.ndarray, box: CropBox) -> np.ndarray:
    """uint8 [T, rows, 96, 3]: the box's drawn rows of each [T, H, W, 3] frame, resampled bilinearly."""
    frames = np.asarray(frames)
    height, width = frames.shape[1:3]
    rows = np.arange(box.rows[0], box.rows[1], dtype=np.float64) + 0.5
    cols = np.arange(CROP_SIZE, dtype=np.float64) + 0.5
    y = np.clip(box.y0 + rows * (box.y1 - box.y0) / CROP_SIZE - 0.5, 0, height - 1)
    x = np.clip(box.x0 + cols * (box.x1 - box.x0) / CROP_SIZE - 0.5, 0, width - 1)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    wy, wx = (y - y0)[:, None, None], (x - x0)[None, :, None]
    image = frames.astype(np.float32)
    top = image[:, y0][:, :, x0] * (1 - wx) + image[:, y0][:, :, x1] * wx
    bottom = image[:, y1][:, :, x0] * (1 - wx) + image[:, y1][:, :, x1] * wx
    return np.clip(np.round(top * (1 - wy) + bottom * wy), 0, 255).astype(np.uint8)
