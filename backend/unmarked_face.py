"""The face box of a head without landmarks, guessed from what its mouth-area shape keys move.

Wav2Lip's face box runs from the brows to just under the chin, as wide as the jaw. A head without the 68
landmarks still has shape keys: the vertices that the mouth, jaw and lip keys move span the jaw's width and
reach the chin, so the box is taken as that region's projected width, its bottom padded a little, and a
height in the face's usual proportion. The ratios are those of the default head, where the guess lands
within a few pixels of its landmark box. Keys named for the eyes, lids, brows or nose are left out; a head
with only such keys uses all of them, and a head whose keys move nothing is framed whole.
"""
from __future__ import annotations

import numpy as np

from .facemesh import FaceMesh
from .facerender import CROP_SIZE, Camera, CropBox

NOT_MOUTH_WORDS = ("eye", "blink", "brow", "squint", "lid", "look", "wink", "sneer", "nose")
MOVED_FRACTION = 0.1  # a vertex counts as moved by a key when it moves a tenth of that key's largest move
BOX_WIDTH = 0.95  # face box width / the moved region's width
BOX_CHIN_PAD = 0.07  # face box bottom below the moved region's, in box widths
BOX_HEIGHT = 1.25  # face box height / its width


def is_mouth_area(name: str) -> bool:
    lowered = name.lower()
    return not any(word in lowered for word in NOT_MOUTH_WORDS)


def moved_vertices(mesh: FaceMesh, keys: list[int]) -> np.ndarray:
    """Boolean [V]: vertices that any of `keys` moves by at least MOVED_FRACTION of its largest move."""
    moved = np.zeros(len(mesh.positions), dtype=bool)
    for k in keys:
        distance = np.linalg.norm(mesh.deltas[k], axis=1)
        if distance.max() > 0:
            moved |= distance >= MOVED_FRACTION * distance.max()
    return moved


def face_box_from_motion(mesh: FaceMesh, camera: Camera, rows: tuple[int, int] = (CROP_SIZE // 2, CROP_SIZE)
                         ) -> CropBox:
    """A Wav2Lip-like face box (frame pixels) for `mesh` seen through `camera`, without landmarks."""
    pixels = camera.project(np.asarray(mesh.positions, dtype=np.float32))[0]
    mouth = [k for k, name in enumerate(mesh.channels) if is_mouth_area(name)]
    moved = moved_vertices(mesh, mouth)
    if not moved.any():
        moved = moved_vertices(mesh, list(range(len(mesh.channels))))
    if not moved.any():
        (x0, y0), (x1, y1) = pixels.min(axis=0), pixels.max(axis=0)
        return CropBox(float(x0), float(y0), float(x1), float(y1), rows)
    region = pixels[moved]
    (x0, _), (x1, y1) = region.min(axis=0), region.max(axis=0)
    width = BOX_WIDTH * float(x1 - x0)
    centre = 0.5 * float(x0 + x1)
    bottom = float(y1) + BOX_CHIN_PAD * width
    return CropBox(centre - width / 2, bottom - BOX_HEIGHT * width, centre + width / 2, bottom, rows)
