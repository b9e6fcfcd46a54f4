"""A head as triangles with linear shape keys, camera and colours: what the software face renderer draws.

The default head (and its seeded identities) is built by the numpy code in assets/head; a user's head
comes from its Blender object (blender_addon/score_mesh.py). Numpy only.
"""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import InputError

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@dataclass(frozen=True, eq=False)
class FaceMesh:
    positions: np.ndarray  # [V, 3] rest positions, world metres
    triangles: np.ndarray  # [F, 3] vertex indices
    face_colour: np.ndarray  # [F, 3] linear RGB base colour of each triangle
    channels: tuple[str, ...]  # shape-key names, the order of `deltas`
    deltas: np.ndarray  # [K, V, 3] offset of each key at weight 1
    landmark_indices: np.ndarray  # [68] vertices of the iBUG landmarks

    def vertices(self, weights: np.ndarray) -> np.ndarray:
        """[T, V, 3] posed vertices for [T, K] weights."""
        values = np.asarray(weights, dtype=np.float32).reshape(-1, len(self.channels))
        return self.positions[None] + np.tensordot(values, self.deltas, axes=1)

    def landmarks(self, weights: np.ndarray) -> np.ndarray:
        """[T, 68, 3] landmark positions."""
        values = np.asarray(weights, dtype=np.float32).reshape(-1, len(self.channels))
        rest = self.positions[self.landmark_indices]
        return rest[None] + np.einsum("tk,kld->tld", values, self.deltas[:, self.landmark_indices])

    def subset(self, keep_faces: np.ndarray) -> "FaceMesh":
        """Only the triangles in `keep_faces` (a boolean mask), and the vertices they use plus the landmarks."""
        triangles = self.triangles[keep_faces]
        used = np.unique(np.concatenate([triangles.ravel(), self.landmark_indices]))
        remap = np.full(len(self.positions), -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        return FaceMesh(self.positions[used], remap[triangles].astype(np.int32), self.face_colour[keep_faces],
                        self.channels, np.ascontiguousarray(self.deltas[:, used]),
                        remap[self.landmark_indices])


def triangulate(faces) -> tuple[np.ndarray, np.ndarray]:
    """Fan-triangulate polygons; returns ([F, 3] triangles, [F] index of the polygon each came from)."""
    triangles, owners = [], []
    for index, face in enumerate(faces):
        for k in range(1, len(face) - 1):
            triangles.append((face[0], face[k], face[k + 1]))
            owners.append(index)
    return np.asarray(triangles, dtype=np.int32).reshape(-1, 3), np.asarray(owners, dtype=np.int64)


def default_head_mesh(identity: int = 0) -> FaceMesh:
    """The default head (identity 0) or one of its seeded variations, built by assets/head."""
    return _build_identity(int(identity))


@lru_cache(maxsize=64)
def _build_identity(identity: int) -> FaceMesh:
    head = _head_package()
    from .rig import FACEWAREHOUSE_46

    chosen = head.identity.identity(identity)
    geometry = head.geometry.head_geometry(FACEWAREHOUSE_46, chosen.design)
    triangles, owners = triangulate(geometry.faces)
    material = np.asarray(geometry.face_material)[owners]
    palette = np.array([chosen.colours[name][:3] for name in head.mesh.MATERIAL_ORDER], dtype=np.float32)
    return FaceMesh(geometry.positions.astype(np.float32), triangles, palette[material], tuple(FACEWAREHOUSE_46),
                    np.stack([geometry.offsets[name] for name in FACEWAREHOUSE_46]).astype(np.float32),
                    np.asarray(geometry.landmarks, dtype=np.int64))


def _head_package():
    if not (ASSETS / "head" / "mesh.py").is_file():
        raise InputError(ASSETS / "head", "the default head's builder is missing (a repository checkout has it)")
    if str(ASSETS) not in sys.path:
        sys.path.insert(0, str(ASSETS))
    package = importlib.import_module("head")
    for name in ("camera", "geometry", "mesh", "identity"):
        importlib.import_module(f"head.{name}")
    return package


def camera_target() -> np.ndarray:
    """The point the default head's camera looks at (world), which varied cameras orbit."""
    return np.asarray(_head_package().camera.CAMERA_TARGET, dtype=np.float64)
