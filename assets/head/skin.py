"""The skin: a (row, column) grid around the head, dense on the face, with slits for the mouth and eyes.

The mouth and each eye are a seam along one row: the seam's inner vertices are doubled, faces above keep
the originals and faces below take the copies, so the lips and the lids can part. Rows are then warped so
the lips' borders follow grid rows and the lids open into almond slits over the eyeballs.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .design import DESIGN, Design, smoothstep
from .surface import column_angles, row_angles, surface_point

NECK_RINGS = 6


@dataclass
class Skin:
    positions: np.ndarray  # [N, 3]
    faces: list[tuple[int, ...]]
    row: np.ndarray  # [N] grid row (-1 for the crown pole)
    column: np.ndarray  # [N] grid column
    lower_copy: np.ndarray  # [N] True for the doubled seam vertices that belong to the faces below
    seams: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # name -> (upper edge, lower edge) vertex ids from -X to +X, sharing the two corner vertices


def nearest(values: np.ndarray, target: float) -> int:
    return int(np.argmin(np.abs(values - target)))


def mouth_seam(design: Design, phis, thetas) -> tuple[int, int, int]:
    """(row, first column, last column) of the line where the lips meet."""
    front = surface_point(0.0, thetas, design)
    row = nearest(np.where(thetas > np.pi / 2, front[:, 2], 1.0), design.mouth_z)
    xs = surface_point(phis, thetas[row], design)[:, 0]
    centre = len(phis) // 2
    first = centre - nearest(xs[centre::-1][:len(phis) // 4], -design.mouth_half_width)  # on the face
    return row, first, len(phis) - first


def eye_seam(design: Design, phis, thetas) -> tuple[int, int, int]:
    """(row, first column, last column) of the left (+X) eye's slit."""
    ex, _, ez = design.eye_center
    centre, quarter = len(phis) // 2, 3 * len(phis) // 4
    column = centre + nearest(surface_point(phis[centre:quarter], thetas[len(thetas) // 3], design)[:, 0], ex)
    row = nearest(surface_point(phis[column], thetas, design)[:, 2], ez)
    xs = surface_point(phis[centre:quarter], thetas[row], design)[:, 0]
    return row, centre + nearest(xs, ex - design.eye_half_width), centre + nearest(xs, ex + design.eye_half_width)


def build_skin(design: Design = DESIGN) -> Skin:
    phis, thetas = column_angles(design), row_angles(design)
    n_rows, n_cols = len(thetas), len(phis)
    grid = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
    seams = {"mouth": mouth_seam(design, phis, thetas)}
    eye_row, eye_first, eye_last = eye_seam(design, phis, thetas)
    seams["eye_L"] = (eye_row, eye_first, eye_last)
    seams["eye_R"] = (eye_row, n_cols - eye_last, n_cols - eye_first)

    phi = np.broadcast_to(phis, (n_rows, n_cols)).ravel()
    theta = np.repeat(thetas, n_cols)
    row, column = np.repeat(np.arange(n_rows), n_cols), np.tile(np.arange(n_cols), n_rows)
    lower_copy = np.zeros(len(phi), bool)

    copies: dict[str, np.ndarray] = {}
    for name, (seam_row, first, last) in seams.items():
        originals = grid[seam_row, first + 1:last]
        copies[name] = np.arange(len(phi), len(phi) + len(originals))
        phi, theta, row, column = (np.concatenate([a, a[originals]]) for a in (phi, theta, row, column))
        lower_copy = np.concatenate([lower_copy, np.ones(len(originals), bool)])

    theta = shape_lips(design, phi, theta, row, lower_copy, seams["mouth"], phis, thetas)
    for name in ("eye_L", "eye_R"):
        theta = open_lids(design, phi, theta, row, lower_copy, seams[name], phis, thetas)
    positions = surface_point(phi, theta, design)
    for sign in (1.0, -1.0):
        positions = wrap_eyeball(design, positions, sign)

    faces = grid_faces(grid, seams, copies)
    positions, faces, row, column, lower_copy = add_crown_and_neck(
        design, positions, faces, grid, row, column, lower_copy)
    seam_edges = {}
    for name, (seam_row, first, last) in seams.items():
        upper = grid[seam_row, first:last + 1]
        lower = np.concatenate([[upper[0]], copies[name], [upper[-1]]])
        seam_edges[name] = (upper, lower)
    return Skin(positions, faces, row, column, lower_copy, seam_edges)


LIP_ROWS = 4  # rows from the mouth seam to each vermilion border


def lip_border_heights(s, design: Design = DESIGN) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lip heights (metres) along the mouth, s = -1 .. 1 corner to corner."""
    s = np.abs(s)
    bow = 1.0 - 0.14 * np.exp(-(s / 0.16) ** 2) + 0.08 * np.exp(-((s - 0.26) / 0.16) ** 2)
    upper = design.upper_lip_height * bow * (1.0 - s ** 2.4) ** 0.55
    lower = design.lower_lip_height * (1.0 - s ** 2.0) ** 0.6
    return upper, lower


def shape_lips(design: Design, phi, theta, row, lower_copy, seam, phis, thetas) -> np.ndarray:
    """Warp polar angles so the rows LIP_ROWS above and below the mouth seam trace the lip borders."""
    seam_row, first, last = seam
    s = phi / phis[last]
    inside = np.clip(np.abs(s), 0.0, 1.0)
    upper_h, lower_h = lip_border_heights(inside, design)
    seam_theta, radius = thetas[seam_row], 0.105
    beyond = smoothstep(1.0, 1.6, np.abs(s))
    natural_up = seam_theta - thetas[seam_row - LIP_ROWS]
    natural_down = thetas[seam_row + LIP_ROWS] - seam_theta
    far_up = seam_theta - thetas[seam_row - 3 * LIP_ROWS]
    far_down = thetas[seam_row + 3 * LIP_ROWS] - seam_theta
    corner = 0.22
    target_up = (np.maximum(upper_h / radius, corner * natural_up)) * (1 - beyond) + natural_up * beyond
    target_down = (np.maximum(lower_h / radius, corner * natural_down)) * (1 - beyond) + natural_down * beyond
    below = (row > seam_row) | ((row == seam_row) & lower_copy)
    distance = np.abs(theta - seam_theta)
    up = remap(distance, natural_up, far_up, target_up)
    down = remap(distance, natural_down, far_down, target_down)
    return np.where(below, seam_theta + down, seam_theta - up)


def remap(distance, natural, far, target):
    """Piecewise-linear: [0, natural] -> [0, target], [natural, far] -> [target, far], identity beyond."""
    near = distance * target / natural
    middle = target + (distance - natural) * (far - target) / (far - natural)
    return np.where(distance <= natural, near, np.where(distance <= far, middle, distance))


def open_lids(design: Design, phi, theta, row, lower_copy, seam, phis, thetas) -> np.ndarray:
    """Warp polar angles so the upper lid edge rises and the lower one drops into an almond slit."""
    seam_row, first, last = seam
    centre, half = 0.5 * (phis[first] + phis[last]), 0.5 * (phis[last] - phis[first])
    s = np.clip((phi - centre) / half, -1.0, 1.0)
    shape = (1.0 - s * s) ** 0.7
    shape = shape * (1.0 + 0.18 * s * np.sign(centre))  # the slit's outer half a little taller
    seam_theta = thetas[seam_row]
    width = 1.5 * design.eye_open_up
    below = (row > seam_row) | lower_copy
    distance = np.abs(theta - seam_theta)
    falloff = np.exp(-(distance / width) ** 2)
    up = design.eye_open_up * shape * falloff
    down = design.eye_open_down * shape * falloff
    return np.where(below, theta + down, theta - up)


def wrap_eyeball(design: Design, positions: np.ndarray, sign: float) -> np.ndarray:
    """Lay the skin near an eye on a sphere just outside the eyeball, so the lids slide over it."""
    ex, ey, ez = design.eye_center
    centre = np.array([sign * ex, ey, ez])
    offset = positions - centre
    distance = np.linalg.norm(offset, axis=1)
    unit = offset / distance[:, None]
    gamma = np.arccos(np.clip(-unit[:, 1], -1.0, 1.0))
    radius = design.eye_radius + design.lid_thickness + 0.002 * smoothstep(0.6, 1.3, gamma)
    weight = (1.0 - smoothstep(design.lid_sphere_angle, design.lid_sphere_angle + 0.45, gamma)) * (1.0 - smoothstep(radius + 0.006, radius + 0.016, distance))
    target = centre + unit * radius[:, None]
    return positions + (target - positions) * weight[:, None]


def grid_faces(grid: np.ndarray, seams: dict, copies: dict) -> list[tuple[int, ...]]:
    n_rows, n_cols = grid.shape
    below_seam = grid.copy()
    swaps: dict[int, dict[int, int]] = {}
    for name, (seam_row, first, last) in seams.items():
        swaps.setdefault(seam_row, {}).update(zip(grid[seam_row, first + 1:last].tolist(), copies[name].tolist()))
    faces = []
    for i in range(n_rows - 1):
        top = [swaps.get(i, {}).get(int(v), int(v)) for v in below_seam[i]]
        bottom = grid[i + 1]
        for j in range(n_cols):
            k = (j + 1) % n_cols
            faces.append((top[j], int(bottom[j]), int(bottom[k]), top[k]))
    return faces


def add_crown_and_neck(design: Design, positions, faces, grid, row, column, lower_copy):
    """A pole vertex closing the crown, and rings running from the jaw line down into the neck."""
    n_rows, n_cols = grid.shape
    crown = len(positions)
    positions = np.vstack([positions, [[0.0, 0.0, positions[grid[0], 2].max() + 0.0015]]])
    faces = faces + [(crown, int(grid[0, j]), int(grid[0, (j + 1) % n_cols])) for j in range(n_cols)]
    row, column = np.append(row, -1), np.append(column, -1)
    lower_copy = np.append(lower_copy, False)

    last = positions[grid[-1]]
    angle = np.arctan2(last[:, 0], -(last[:, 1] - design.neck_center_y))
    rx, ry = design.neck_radii
    ellipse = np.stack([rx * np.sin(angle), design.neck_center_y - ry * np.cos(angle)], axis=1)
    top_z = last[:, 2].max() - 0.012
    previous = grid[-1]
    for k in range(1, NECK_RINGS + 1):
        t = k / NECK_RINGS
        blend = float(smoothstep(0.0, 0.45, t))
        xy = last[:, :2] * (1.0 - blend) + ellipse * blend
        z = (1.0 - t) * np.minimum(last[:, 2] - 0.01, top_z) + t * design.neck_bottom_z
        ring = np.arange(len(positions), len(positions) + n_cols)
        positions = np.vstack([positions, np.column_stack([xy, z])])
        faces += [(int(previous[j]), int(ring[j]), int(ring[(j + 1) % n_cols]), int(previous[(j + 1) % n_cols]))
                  for j in range(n_cols)]
        row = np.concatenate([row, np.full(n_cols, n_rows - 1 + k)])
        column = np.concatenate([column, np.arange(n_cols)])
        lower_copy = np.concatenate([lower_copy, np.zeros(n_cols, bool)])
        previous = ring
    return positions, faces, row, column, lower_copy
