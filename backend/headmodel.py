"""The default head as a landmark model: 68 iBUG-order landmarks that move linearly with the 46 shape keys.

`assets/build_head.py` measures the head it builds and writes `assets/head_landmarks.npz`:
  channels        (46,)      FaceWarehouse-46 names, in the table's order
  neutral         (68, 3)    landmark positions with every key at 0 (Blender world, metres, Z up)
  deltas          (46, 68, 3) landmark offset of each key at weight 1
  world_to_camera (4, 4)     world -> camera, OpenCV axes (x right, y down, z forward)
  intrinsics      (3, 3)     pinhole matrix in pixels, origin at the image's top-left corner
  resolution      (2,)       image width, height in pixels
  vertex_indices  (68,)      the landmark vertices on the head mesh
Numpy only, so the evaluation and the corpus builders can use it without Blender.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import InputError

N_LANDMARKS = 68
LIP_LANDMARKS = tuple(range(48, 68))
INNER_LIP_TOP, INNER_LIP_BOTTOM = 62, 66
FILE_NAME = "head_landmarks.npz"
FIELDS = ("channels", "neutral", "deltas", "world_to_camera", "intrinsics", "resolution", "vertex_indices")


@dataclass(frozen=True, eq=False)
class HeadModel:
    channels: tuple[str, ...]
    neutral: np.ndarray
    deltas: np.ndarray
    world_to_camera: np.ndarray
    intrinsics: np.ndarray
    resolution: tuple[int, int]
    vertex_indices: np.ndarray

    def weights_matrix(self, weights) -> np.ndarray:
        """[T, K] float32 from a [K] vector or [T, K] array in this model's channel order."""
        values = np.asarray(weights, dtype=np.float32)
        values = values.reshape(1, -1) if values.ndim == 1 else values
        if values.ndim != 2 or values.shape[1] != len(self.channels):
            raise ValueError(f"weights must be [T, {len(self.channels)}], not {np.shape(weights)}")
        return values

    def landmarks(self, weights) -> np.ndarray:
        """[T, 68, 3] landmark positions for [T, 46] shape-key weights (linear blend of the deltas)."""
        values = self.weights_matrix(weights)
        return self.neutral[None] + np.einsum("tk,kld->tld", values, self.deltas)

    def project(self, points3d) -> np.ndarray:
        """[..., 2] pixel coordinates (x right, y down) of [..., 3] world points through the stored camera."""
        points = np.asarray(points3d, dtype=np.float64)
        rotation, translation = self.world_to_camera[:3, :3], self.world_to_camera[:3, 3]
        camera = points @ rotation.T + translation
        pixels = camera @ self.intrinsics.T
        return (pixels[..., :2] / pixels[..., 2:3]).astype(np.float32)

    def channel_weights(self, channels, values) -> np.ndarray:
        """Reorder [T, len(channels)] values into [T, 46] by name; channels not present stay 0."""
        values = np.asarray(values, dtype=np.float32).reshape(-1, len(channels))
        out = np.zeros((values.shape[0], len(self.channels)), dtype=np.float32)
        column = {name: i for i, name in enumerate(self.channels)}
        for j, name in enumerate(channels):
            if name in column:
                out[:, column[name]] = values[:, j]
        return out


def inner_lip_gap(landmarks) -> np.ndarray:
    """[T] how far the inner-lip top centre (62) sits above the bottom centre (66), never below 0.

    The vertical separation rather than the straight distance, so lips pressed or rolled past each
    other (P, B, M) read as closed. 3-D points use this head's up axis (+Z); 2-D points are pixels
    (y down), as `project` returns them.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    points = points[None] if points.ndim == 2 else points
    offset = points[:, INNER_LIP_TOP] - points[:, INNER_LIP_BOTTOM]
    vertical = offset[:, 2] if points.shape[-1] == 3 else -offset[:, 1]
    return np.maximum(vertical, 0.0)


def candidate_paths() -> list[Path]:
    """Where the npz is looked for: the repository's assets/, then the package's data/ (add-on builds)."""
    package = Path(__file__).resolve().parent
    return [package.parent / "assets" / FILE_NAME, package / "data" / FILE_NAME]


def default_path() -> Path:
    for path in candidate_paths():
        if path.is_file():
            return path
    searched = ", ".join(str(p) for p in candidate_paths())
    raise InputError(FILE_NAME, f"default head landmarks not found (looked in {searched}); "
                                "build them with assets/build_head.py")


def load(path: str | os.PathLike | None = None) -> HeadModel:
    """The head model from `path`, or the default head's (cached)."""
    if path is None:
        return _load_default()
    return _read(Path(path))


@lru_cache(maxsize=1)
def _load_default() -> HeadModel:
    return _read(default_path())


def _read(path: Path) -> HeadModel:
    if not path.is_file():
        raise InputError(path, "file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in FIELDS}
    except KeyError as err:
        raise InputError(path, f"not a head landmark file: missing {err}") from None
    except (OSError, ValueError) as err:
        raise InputError(path, f"not a readable npz file ({err})") from None
    model = HeadModel(channels=tuple(str(c) for c in arrays["channels"]),
                      neutral=arrays["neutral"].astype(np.float32),
                      deltas=arrays["deltas"].astype(np.float32),
                      world_to_camera=arrays["world_to_camera"].astype(np.float64),
                      intrinsics=arrays["intrinsics"].astype(np.float64),
                      resolution=tuple(int(v) for v in arrays["resolution"]),
                      vertex_indices=arrays["vertex_indices"].astype(np.int64))
    _check_shapes(model, path)
    return model


def _check_shapes(model: HeadModel, path: Path) -> None:
    k = len(model.channels)
    expected = {"neutral": (N_LANDMARKS, 3), "deltas": (k, N_LANDMARKS, 3), "world_to_camera": (4, 4),
                "intrinsics": (3, 3), "vertex_indices": (N_LANDMARKS,)}
    for name, shape in expected.items():
        if getattr(model, name).shape != shape:
            raise InputError(path, f"{name} is {getattr(model, name).shape}, expected {shape}")


def landmarks(weights, path: str | os.PathLike | None = None) -> np.ndarray:
    """[T, 68, 3] default-head landmarks for [T, 46] weights."""
    return load(path).landmarks(weights)


def project(points3d, path: str | os.PathLike | None = None) -> np.ndarray:
    """[..., 2] pixel coordinates of world points through the default head's camera."""
    return load(path).project(points3d)
