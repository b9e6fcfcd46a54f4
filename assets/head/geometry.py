"""Everything Blender needs to build one head from a design: vertices, faces, shape-key offsets, landmark
vertices and eyeballs. The head is shaped in design space, where the skin's features sit at fixed
coordinates, then stretched by `design.scale`; a stretch along the axes keeps every part on its side of
the skin, so the inner mouth stays inside."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import DESIGN, Design
from .keys import shape_key_offsets
from .landmarks import landmark_indices
from .mesh import build_mesh


@dataclass(frozen=True)
class HeadGeometry:
    positions: np.ndarray  # [N, 3] rest vertices
    faces: list[tuple[int, ...]]
    face_material: np.ndarray  # [F] index into mesh.MATERIAL_ORDER
    offsets: dict[str, np.ndarray]  # shape key name -> [N, 3] offsets at weight 1
    landmarks: np.ndarray  # [68] landmark vertex ids
    eye_centres: tuple[tuple[float, float, float], tuple[float, float, float]]  # left (+X), right
    eye_radius: float


def head_geometry(names, design: Design = DESIGN) -> HeadGeometry:
    """The head of `design` with one offset array per shape key in `names`."""
    mesh = build_mesh(design)
    offsets = shape_key_offsets(mesh, names, design)
    scale = np.asarray(design.scale, dtype=np.float64)
    ex, ey, ez = design.eye_center
    eyes = tuple(tuple(float(v) for v in np.array([sign * ex, ey, ez]) * scale) for sign in (1.0, -1.0))
    # The lids wrap a sphere a little larger than the eyeball; the smallest stretch keeps the ball inside.
    return HeadGeometry(mesh.positions * scale, mesh.faces, mesh.face_material,
                        {name: offset * scale for name, offset in offsets.items()},
                        landmark_indices(mesh, design), eyes, design.eye_radius * float(scale.min()))
