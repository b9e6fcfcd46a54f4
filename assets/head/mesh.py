"""The whole head mesh: skin, inner mouth and eyebrows, with per-vertex bookkeeping for the shape keys."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .brows import eyebrow
from .design import DESIGN, Design
from .mouth import cavity, inner_parts
from .part import single_anchors
from .skin import LIP_ROWS, Skin, build_skin

MATERIAL_ORDER = ("Skin", "Lips", "MouthInside", "Teeth", "Tongue", "Brows")


@dataclass
class HeadMesh:
    positions: np.ndarray  # [N, 3]
    faces: list[tuple[int, ...]]
    face_material: np.ndarray  # [F] index into MATERIAL_ORDER
    skin: Skin  # the skin's own arrays index the first len(skin.positions) vertices
    anchors: np.ndarray  # [N, 3] skin vertices each vertex rides on (a skin vertex: itself)
    anchor_weights: np.ndarray  # [N, 3] summing to 1, or all 0 for free-standing teeth and tongue
    follow: np.ndarray  # [N] how strongly a vertex follows its anchors' non-jaw keys
    free_jaw: np.ndarray  # [N] jaw weight of free-standing vertices

    @property
    def n_skin(self) -> int:
        return len(self.skin.positions)


def build_mesh(design: Design = DESIGN) -> HeadMesh:
    skin = build_skin(design)
    upper, lower = skin.seams["mouth"]
    n_skin = len(skin.positions)
    positions, faces = [skin.positions], list(skin.faces)
    materials = lip_materials(skin)
    anchors, anchor_weights = single_anchors(np.arange(n_skin))
    follow, free_jaw = np.ones(n_skin), np.zeros(n_skin)
    offset = n_skin
    pieces = ([cavity(skin.positions, upper, lower, design)] + inner_parts(skin.positions, upper, lower, design)
              + [eyebrow(skin, side) for side in (1.0, -1.0)])
    for piece in pieces:
        positions.append(piece.positions)
        faces += [tuple(offset + v for v in f) for f in piece.faces]
        faces += [tuple(v if v >= 0 else offset - 1 - v for v in f) for f in piece.joins]
        materials = np.concatenate([materials, np.full(len(piece.faces), MATERIAL_ORDER.index(piece.material)),
                                    np.full(len(piece.joins), MATERIAL_ORDER.index("Lips"))])
        anchors = np.concatenate([anchors, piece.anchors])
        anchor_weights = np.concatenate([anchor_weights, piece.anchor_weights])
        follow = np.concatenate([follow, piece.follow])
        free_jaw = np.concatenate([free_jaw, piece.jaw])
        offset += len(piece.positions)
    return HeadMesh(np.vstack(positions), faces, materials.astype(np.int32), skin,
                    anchors, anchor_weights, follow, free_jaw)


def lip_materials(skin: Skin) -> np.ndarray:
    """Skin faces between the vermilion borders, which are grid rows LIP_ROWS from the mouth seam."""
    upper, _ = skin.seams["mouth"]
    seam_row, first, last = skin.row[upper[0]], skin.column[upper[0]], skin.column[upper[-1]]
    corners = np.array([f[0] for f in skin.faces])
    top_row, left_column = skin.row[corners], skin.column[corners]
    lip = ((top_row >= seam_row - LIP_ROWS) & (top_row < seam_row + LIP_ROWS)
           & (left_column >= first) & (left_column < last))
    return np.where(lip, MATERIAL_ORDER.index("Lips"), MATERIAL_ORDER.index("Skin"))

