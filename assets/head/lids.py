"""Eyelid motion: lids lie on a sphere around the eyeball, so they move by rotating about its centre."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import DESIGN, Design, smoothstep
from .skin import Skin


@dataclass(frozen=True)
class Lids:
    """Per skin vertex, for one eye. Each column of the slit closes along the great circle (about the eye
    centre) through its upper and lower edge vertices, so the two edges meet exactly."""

    centre: np.ndarray  # [3]
    axis: np.ndarray  # [N, 3] rotation axis of the vertex's column (zero outside the slit)
    closure: np.ndarray  # [N] angle between the column's upper and lower edge, seen from the centre
    depth: np.ndarray  # [N] the column's lower edge distance from the centre minus its upper edge's
    upper: np.ndarray  # [N] 0..1 how much the vertex moves with the upper lid
    lower: np.ndarray  # [N] 0..1 with the lower lid


def eye_frame(positions: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(elevation, azimuth) of points seen from the eye centre, both 0 straight ahead (-Y)."""
    offset = positions - centre
    forward = -offset[:, 1]
    return np.arctan2(offset[:, 2], forward), np.arctan2(offset[:, 0], forward)


def lids_for(skin: Skin, side: str, design: Design = DESIGN) -> Lids:
    sign = 1.0 if side == "L" else -1.0
    ex, ey, ez = design.eye_center
    centre = np.array([sign * ex, ey, ez])
    upper_edge, lower_edge = skin.seams["eye_" + side]
    to_upper = skin.positions[upper_edge] - centre
    to_lower = skin.positions[lower_edge] - centre
    normal = np.cross(to_lower, to_upper)  # turning about it by +angle carries lower toward upper
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    edge_axis = np.where(length > 1e-12, normal / np.maximum(length, 1e-12), 0.0)
    cosine = np.sum(to_upper * to_lower, axis=1) / (np.linalg.norm(to_upper, axis=1) * np.linalg.norm(to_lower, axis=1))
    edge_closure = np.arccos(np.clip(cosine, -1.0, 1.0))

    slot = np.full(skin.column.max() + 2, -1)
    slot[skin.column[upper_edge]] = np.arange(len(upper_edge))
    index = slot[skin.column]
    in_slit = (index >= 0) & (skin.row >= 0)
    axis = np.where(in_slit[:, None], edge_axis[index], 0.0)
    closure = np.where(in_slit, edge_closure[index], 0.0)
    edge_depth = np.linalg.norm(to_lower, axis=1) - np.linalg.norm(to_upper, axis=1)
    depth = np.where(in_slit, edge_depth[index], 0.0)

    elevation, azimuth = eye_frame(skin.positions, centre)
    upper_elev = np.where(in_slit, elevation[upper_edge][index], 0.0)
    lower_elev = np.where(in_slit, elevation[lower_edge][index], 0.0)
    seam_row = skin.row[upper_edge[0]]
    below = (skin.row > seam_row) | skin.lower_copy
    # The lids stretch between their edge and where the skin leaves the eyeball's sphere.
    on_sphere = np.sqrt(np.maximum(design.lid_sphere_angle ** 2 - azimuth ** 2, 0.0))
    in_front = skin.positions[:, 1] < ey
    top = np.maximum(on_sphere, upper_elev + 0.15)
    bottom = np.minimum(-on_sphere, lower_elev - 0.15)
    upper = np.where(~below & in_front & in_slit, 1.0 - smoothstep(upper_elev, top, elevation), 0.0)
    lower = np.where(below & in_front & in_slit, 1.0 - smoothstep(-lower_elev, -bottom, -elevation), 0.0)
    return Lids(centre, axis, closure, depth, upper, lower)


def rotate(points: np.ndarray, centre: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation of each point about its own unit axis through `centre`."""
    offset = points - centre
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    turned = offset * cos + np.cross(axis, offset) * sin + axis * np.sum(axis * offset, axis=1, keepdims=True) * (1 - cos)
    return centre + turned


def rotate_about_x(positions: np.ndarray, centre: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate points about the X axis through `centre`; positive angles raise points in front of it."""
    axis = np.broadcast_to(np.array([-1.0, 0.0, 0.0]), positions.shape)
    return rotate(positions, centre, axis, np.broadcast_to(angle, positions.shape[:1]))


def rotate_about_z(positions: np.ndarray, centre: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate points about the vertical axis through `centre`; positive angles move the front toward +X."""
    offset = positions - centre
    forward, right = -offset[:, 1], offset[:, 0]
    cos, sin = np.cos(angle), np.sin(angle)
    moved = offset.copy()
    moved[:, 0] = forward * sin + right * cos
    moved[:, 1] = -(forward * cos - right * sin)
    return centre + moved


def lid_motion(positions: np.ndarray, lids: Lids, upper: float, lower: float) -> np.ndarray:
    """Offsets for lids turned by fractions of the slit's height (positive: up)."""
    angle = lids.closure * (upper * lids.upper + lower * lids.lower)
    turned = rotate(positions, lids.centre, lids.axis, angle)
    offset = turned - lids.centre
    radial = offset / np.maximum(np.linalg.norm(offset, axis=1, keepdims=True), 1e-12)
    toward_other = lids.depth * (-upper * lids.upper - lower * lids.lower)
    return turned + radial * toward_other[:, None] - positions


def blink(positions: np.ndarray, lids: Lids) -> np.ndarray:
    """The upper lid comes down 80% of the slit and the lower lid rises 20%: the edges meet."""
    return lid_motion(positions, lids, -0.8, 0.2)


def gaze_sideways(positions: np.ndarray, lids: Lids, angle: float) -> np.ndarray:
    """Lids follow a sideways look a little (positive angle: toward +X)."""
    weight = np.maximum(lids.upper, lids.lower)
    return rotate_about_z(positions, lids.centre, angle * weight) - positions
