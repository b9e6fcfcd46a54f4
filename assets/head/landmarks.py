"""The 68 iBUG face landmarks as vertex indices of the head mesh.

iBUG order runs from the image's left, which is the character's right (-X): jaw 0-16, brows 17-26,
nose 27-35, eyes 36-47, outer lips 48-59, inner lips 60-67 (62 and 66: inner top and bottom centres).
Lid and lip points are taken straight from the slit edges and the vermilion-border rows; the rest are the
front-most vertices nearest to designed points.
"""
from __future__ import annotations

import numpy as np

from .design import DESIGN, Design, brow_height
from .mesh import HeadMesh
from .skin import LIP_ROWS


def nearest_front(mesh: HeadMesh, x: float, z: float, max_y: float = -0.02) -> int:
    skin = mesh.skin
    p = skin.positions
    usable = (skin.row >= 0) & (p[:, 1] < max_y) & ~skin.lower_copy
    distance = np.hypot(p[:, 0] - x, p[:, 2] - z) + np.where(usable, 0.0, np.inf)
    close = np.flatnonzero(distance < distance.min() + 0.0015)
    return int(close[np.argmin(p[close, 1])])


def jaw_points(mesh: HeadMesh) -> list[int]:
    angles = np.pi + np.pi * np.arange(17) / 16
    return [nearest_front(mesh, 0.071 * np.cos(a), 0.022 + 0.118 * np.sin(a)) for a in angles]


def brow_points(mesh: HeadMesh) -> list[int]:
    xs = np.array([0.053, 0.044, 0.034, 0.024, 0.013])
    zs = brow_height(xs)
    right = [nearest_front(mesh, -x, z) for x, z in zip(xs, zs)]
    left = [nearest_front(mesh, x, z) for x, z in zip(xs[::-1], zs[::-1])]
    return right + left


def nose_points(mesh: HeadMesh, design: Design = DESIGN) -> list[int]:
    bridge = [nearest_front(mesh, 0.0, z) for z in (0.028, 0.016, 0.004, -0.008)]
    base = [nearest_front(mesh, x * design.nose_width, z) for x, z in
            ((-0.0115, -0.0165), (-0.006, -0.0195), (0.0, -0.021), (0.006, -0.0195), (0.0115, -0.0165))]
    return bridge + base


def at_fraction(edge: np.ndarray, fraction: float) -> int:
    return int(edge[int(round(fraction * (len(edge) - 1)))])


def eye_points(mesh: HeadMesh) -> list[int]:
    up_r, low_r = mesh.skin.seams["eye_R"]  # -X to +X: outer corner to inner corner
    up_l, low_l = mesh.skin.seams["eye_L"]  # -X to +X: inner corner to outer corner
    right = [up_r[0], at_fraction(up_r, 1 / 3), at_fraction(up_r, 2 / 3), up_r[-1],
             at_fraction(low_r, 2 / 3), at_fraction(low_r, 1 / 3)]
    left = [up_l[0], at_fraction(up_l, 1 / 3), at_fraction(up_l, 2 / 3), up_l[-1],
            at_fraction(low_l, 2 / 3), at_fraction(low_l, 1 / 3)]
    return [int(v) for v in right + left]


def border_vertex(mesh: HeadMesh, row: int, s: float, design: Design) -> int:
    skin = mesh.skin
    candidates = np.flatnonzero((skin.row == row) & ~skin.lower_copy & (skin.positions[:, 1] < -0.05))
    x = skin.positions[candidates, 0]
    return int(candidates[np.argmin(np.abs(x - s * design.mouth_half_width))])


def lip_points(mesh: HeadMesh, design: Design = DESIGN) -> list[int]:
    upper, lower = mesh.skin.seams["mouth"]
    seam_row = int(mesh.skin.row[upper[0]])
    top, bottom = seam_row - LIP_ROWS, seam_row + LIP_ROWS
    outer = ([int(upper[0])] + [border_vertex(mesh, top, s, design) for s in (-0.6, -0.28, 0.0, 0.28, 0.6)]
             + [int(upper[-1])] + [border_vertex(mesh, bottom, s, design) for s in (0.6, 0.28, 0.0, -0.28, -0.6)])
    inner_ring = mesh.n_skin  # the cavity's first ring starts at the skin's end, at the -X corner
    inner = ([inner_ring] + [at_fraction(upper, f) for f in (0.25, 0.5, 0.75)]
             + [inner_ring + len(upper) - 1] + [at_fraction(lower, f) for f in (0.75, 0.5, 0.25)])
    return outer + inner


def landmark_indices(mesh: HeadMesh, design: Design = DESIGN) -> np.ndarray:
    indices = (jaw_points(mesh) + brow_points(mesh) + nose_points(mesh, design) + eye_points(mesh)
               + lip_points(mesh, design))
    return np.array(indices, dtype=np.int64)
