"""A piece of the head mesh besides the skin (inner mouth, teeth, tongue, eyebrows) and how it rides on the skin."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Part:
    positions: np.ndarray
    faces: list[tuple[int, ...]]  # indices local to this part
    material: str
    anchors: np.ndarray  # [n, 3] skin vertices each vertex rides on
    anchor_weights: np.ndarray  # [n, 3] their weights (summing to 1), or all 0 for a free-standing vertex
    follow: np.ndarray  # [n] how strongly it follows its anchors' lip, mouth, eye and brow keys
    jaw: np.ndarray  # [n] jaw weight of free-standing vertices (anchored ones take their anchors')
    joins: list[tuple[int, ...]] = ()  # faces to the skin: skin index >= 0, part vertex k as -1 - k


def single_anchors(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anchors riding on one skin vertex each (-1: free-standing)."""
    anchors = np.repeat(np.maximum(vertices, 0)[:, None], 3, axis=1)
    weights = np.zeros((len(vertices), 3))
    weights[:, 0] = vertices >= 0
    return anchors, weights
