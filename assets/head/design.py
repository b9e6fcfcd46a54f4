"""Proportions of the default head, in metres. Blender axes: the face looks toward -Y, Z is up, and the
character's left is +X (Blender's `.L` side)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Design:
    columns: int = 128  # vertices around the head
    rows: int = 84  # vertices from the crown down to the jaw line (the neck adds its own rings)
    theta_end: float = 2.72  # polar angle (radians from +Z) of the last head ring

    eye_center: tuple[float, float, float] = (0.032, -0.068, 0.030)  # left eye; the right mirrors it
    eye_radius: float = 0.0125
    eye_half_width: float = 0.0145  # half the lid slit, in x
    eye_open_up: float = 0.040  # polar-angle lift of the upper lid edge at the slit's middle
    eye_open_down: float = 0.030  # polar-angle drop of the lower lid edge
    lid_thickness: float = 0.0015
    lid_sphere_angle: float = 0.95  # skin within this angle of an eye's axis lies on the sphere around it

    mouth_z: float = -0.046  # height of the line where the lips meet
    mouth_half_width: float = 0.024
    upper_lip_height: float = 0.0085  # seam to the upper vermilion border at the centre
    lower_lip_height: float = 0.0095
    upper_lip_fullness: float = 1.0  # forward bulge of the upper lip, relative to the default head's
    lower_lip_fullness: float = 1.0
    nose_size: float = 1.0  # how far the nose stands out, relative to the default head's
    nose_width: float = 1.0  # width of the bridge, the alae and the nostrils, likewise
    chin_size: float = 1.0  # forward bulge of the chin, likewise

    jaw_hinge: tuple[float, float] = (0.018, 0.002)  # (y, z) of the jaw's rotation axis (parallel to X)
    jaw_open_angle: float = 0.27  # radians at JawOpen = 1
    jaw_open_slide: float = 0.007  # forward glide of the jaw at JawOpen = 1
    neck_center_y: float = 0.012
    neck_radii: tuple[float, float] = (0.054, 0.058)  # x, y
    neck_bottom_z: float = -0.24
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)  # the built head's x, y, z stretch (width, depth, height)


DESIGN = Design()


def smoothstep(edge0: float, edge1: float, x):
    t = np.clip((np.asarray(x, dtype=np.float64) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def soft_abs(x, softness: float = 0.002):
    """|x| rounded off near 0, so mirrored features meet without a crease on the midline."""
    return np.sqrt(np.asarray(x, dtype=np.float64) ** 2 + softness ** 2)


def gauss(x, width: float):
    return np.exp(-(np.asarray(x, dtype=np.float64) / width) ** 2)


def brow_height(ax):
    """Height of the eyebrows' middle line at |x| = ax: an arch peaking above the eye's outer half."""
    return 0.046 + 0.005 * (1.0 - ((np.asarray(ax, dtype=np.float64) - 0.030) / 0.026) ** 2)


def brow_half_width(ax):
    """Half the eyebrows' thickness: full at the head, thinning toward the tail."""
    return 0.0038 - 0.0019 * smoothstep(0.028, 0.054, ax)
