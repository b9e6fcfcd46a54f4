"""Smooth per-vertex weights over the skin that the shape keys are made from."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import DESIGN, Design, gauss, smoothstep
from .skin import Skin, lip_border_heights


@dataclass(frozen=True)
class Fields:
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    s: np.ndarray  # x over the mouth's half width: -1 and 1 at the corners
    seam_z: np.ndarray  # height of the mouth line (extended past the corners toward the ears)
    upper_side: np.ndarray  # bool: above the mouth line (the upper lip's side of the seam)
    upper_lip: np.ndarray  # 0..1, for motions of the upper lip (shared with the lower one at the corners)
    lower_lip: np.ndarray  # 0..1, likewise for the lower lip
    lips: np.ndarray  # 0..1, both lips, for motions of the whole mouth
    lip_edge: np.ndarray  # 0..1, high near where the lips meet, low at the vermilion borders
    mouth_area: np.ndarray  # 0..1, lips and the skin around them
    jaw: np.ndarray  # 0..1, how much the vertex rides on the jaw


def skin_fields(skin: Skin, design: Design = DESIGN) -> Fields:
    x, y, z = skin.positions.T
    upper, lower = skin.seams["mouth"]
    half = design.mouth_half_width
    s = x / half
    corner = skin.positions[upper[[0, -1]]]
    seam_x, seam_zs = skin.positions[upper, 0], skin.positions[upper, 2]
    corner_z = 0.5 * (corner[0, 2] + corner[1, 2])
    beyond = np.maximum(np.abs(x) - half, 0.0)
    seam_z = np.where(np.abs(x) <= half, np.interp(x, seam_x, seam_zs), corner_z + 0.35 * beyond)

    seam_row = skin.row[upper[0]]
    upper_side = (skin.row < seam_row) | ((skin.row == seam_row) & ~skin.lower_copy)
    distance = np.abs(z - seam_z)
    upper_h, lower_h = lip_border_heights(np.clip(np.abs(s), 0.0, 1.0), design)
    across = 1.0 - smoothstep(0.85, 1.5, np.abs(s))
    upper_lip = np.where(upper_side, 1.0 - smoothstep(np.maximum(upper_h, 0.002), upper_h + 0.011, distance), 0.0)
    lower_lip = np.where(~upper_side, 1.0 - smoothstep(np.maximum(lower_h, 0.002), lower_h + 0.011, distance), 0.0)
    front = smoothstep(-0.05, -0.075, y)
    upper_lip, lower_lip = upper_lip * across * front, lower_lip * across * front
    # Toward the corners both lips share their motion, so the skin there moves as one instead of folding.
    shared = smoothstep(0.7, 1.1, np.abs(s))
    lips = upper_lip + lower_lip
    upper_lip, lower_lip = upper_lip + shared * lower_lip, lower_lip + shared * upper_lip
    height = np.where(upper_side, np.maximum(upper_h, 0.0015), np.maximum(lower_h, 0.0015))
    lip_edge = (1.0 - smoothstep(0.0, height, distance)) * (1.0 - smoothstep(0.8, 1.05, np.abs(s)))
    mouth_area = gauss(x, 0.034) * gauss(z - seam_z, 0.02) * front
    return Fields(x, y, z, s, seam_z, upper_side, upper_lip, lower_lip, lips, lip_edge, mouth_area,
                  jaw_weight(skin, x, y, z, s, seam_z, upper_side, design))


def jaw_weight(skin: Skin, x, y, z, s, seam_z, upper_side, design: Design) -> np.ndarray:
    """1 on the lower lip, chin and jaw; 0 on the upper lip and skull; a smooth stretch between."""
    half = design.mouth_half_width
    below = seam_z - z
    spread = 0.006 + 0.45 * np.maximum(np.abs(x) - half, 0.0)
    weight = smoothstep(-spread, spread, below)
    taper = np.clip(np.abs(s), 0.0, 1.0) ** 3.5  # the corners open half as much as the lips' middle
    at_lower_seam, at_upper_seam = 1.0 - 0.5 * taper, 0.5 * taper
    lower_lip = at_lower_seam + (1.0 - at_lower_seam) * smoothstep(0.0, 0.008, below)
    upper_lip = at_upper_seam * (1.0 - smoothstep(0.0, 0.008, -below))
    inside = np.abs(s) < 1.0
    weight = np.where(inside, np.where(upper_side, upper_lip, lower_lip), weight)
    toward_ear = 1.0 - smoothstep(-0.035, 0.02, y)
    under_jaw = smoothstep(-0.085, -0.105, z) * (1.0 - smoothstep(-0.015, -0.065, y))
    neck = (1.0 - under_jaw) * smoothstep(-0.15, -0.11, z)
    return weight * toward_ear * neck * (skin.row >= 0)


def side_weight(x, side: float, width: float = 0.004) -> np.ndarray:
    """0..1: the character's left (side = 1, +X) or right (-1) half, soft across the middle."""
    return smoothstep(-width, width, side * x)


def corner_weight(f: Fields, side: float, design: Design = DESIGN, width: float = 0.014) -> np.ndarray:
    corner_z = f.seam_z[np.argmin(np.abs(f.x - side * design.mouth_half_width))]
    return gauss(np.hypot(f.x - side * design.mouth_half_width, (f.z - corner_z) * 1.2), width) * \
        smoothstep(-0.05, -0.075, f.y)
