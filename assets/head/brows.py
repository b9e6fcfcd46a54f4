"""Eyebrows: a thin arched strip laid just above the skin, riding on the skin triangles under it."""
from __future__ import annotations

import numpy as np

from .design import brow_half_width, brow_height, smoothstep
from .part import Part
from .skin import Skin

SEGMENTS = 16
ACROSS = (-1.0, -0.5, 0.0, 0.5, 1.0)  # rows across the brow, in half-widths
LIFT = 0.0004  # metres above the skin at the brow's edges; the middle rises a little more


def skin_triangles(skin: Skin, near) -> np.ndarray:
    """[F, 3] vertex ids of the skin's faces (quads split in two) whose centres pass `near`."""
    triangles = []
    for face in skin.faces:
        triangles += [(face[0], face[i], face[i + 1]) for i in range(1, len(face) - 1)]
    triangles = np.array(triangles)
    return triangles[near(skin.positions[triangles].mean(axis=1))]


def cast_forward_rays(points_xz: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First hit of rays going +Y from far in front of each (x, z): (triangle, barycentric [P, 3], hit [P, 3])."""
    origin = np.column_stack([points_xz[:, 0], np.full(len(points_xz), -1.0), points_xz[:, 1]])
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    edge1, edge2 = b - a, c - a
    direction = np.array([0.0, 1.0, 0.0])
    pvec = np.cross(direction, edge2)
    det = np.sum(edge1 * pvec, axis=1)
    tvec = origin[:, None, :] - a[None]
    u = np.sum(tvec * pvec[None], axis=2) / det
    qvec = np.cross(tvec, edge1[None])
    v = np.sum(qvec * direction, axis=2) / det
    distance = np.sum(qvec * edge2[None], axis=2) / det
    inside = (u >= 0) & (v >= 0) & (u + v <= 1) & (np.abs(det) > 1e-15)
    distance = np.where(inside, distance, np.inf)
    first = np.argmin(distance, axis=1)
    rows = np.arange(len(points_xz))
    if not np.isfinite(distance[rows, first]).all():
        raise ValueError("an eyebrow point missed the skin")
    bary = np.column_stack([1 - u[rows, first] - v[rows, first], u[rows, first], v[rows, first]])
    return first, bary, origin + distance[rows, first][:, None] * direction


def eyebrow(skin: Skin, side: float) -> Part:
    """The brow on the character's left (side = 1, +X) or right (-1)."""
    t = np.linspace(0.0, 1.0, SEGMENTS + 1)
    ax = 0.0115 + 0.0435 * t
    taper = smoothstep(0.0, 0.12, t) * 0.5 + 0.5
    half = brow_half_width(ax) * taper
    grid = [(side * x, brow_height(x) + row * h) for row in ACROSS for x, h in zip(ax, half)]
    points_xz = np.array(grid)

    triangles = skin_triangles(skin, lambda c: (np.abs(c[:, 0] - side * 0.033) < 0.035)
                               & (np.abs(c[:, 2] - 0.048) < 0.02) & (c[:, 1] < -0.03))
    corners = skin.positions[triangles]
    hit_triangle, bary, hit = cast_forward_rays(points_xz, corners)
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[hit_triangle]
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    normal *= np.where(normal[:, 1] < 0, 1.0, -1.0)[:, None]  # outward: toward the front
    rise = np.repeat(1.0 + 0.8 * (1.0 - np.abs(np.array(ACROSS))), len(ax))
    positions = hit + normal * (LIFT * rise)[:, None]

    width = len(ax)
    faces = []
    for r in range(len(ACROSS) - 1):
        for k in range(SEGMENTS):
            a, b = r * width + k, (r + 1) * width + k
            quad = (a, a + 1, b + 1, b)
            faces.append(quad if side > 0 else quad[::-1])
    n = len(positions)
    return Part(positions, faces, "Brows", triangles[hit_triangle], bary, np.ones(n), np.zeros(n))
