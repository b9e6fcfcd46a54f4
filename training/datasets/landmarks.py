"""68 iBUG-order face landmarks per video frame, tracked with MediaPipe Face Mesh (offline, its model
ships in the wheel) or with face-alignment when that package and its weights are already on disk.

MediaPipe gives 468 mesh points; MESH_TO_IBUG68 picks, for each iBUG point, the mesh vertex at the same
place on the face (jaw line, brows, nose, eye corners and lids, outer and inner lip contours). Points
come back as (x, y, z) pixels: x right, y down, z depth toward the camera negative, in x's scale.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from backend.errors import InputError, ToolError

MESH_TO_IBUG68 = (
    # 0-16 jaw line, from the face's right (image left) over the chin to its left
    234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,
    # 17-21 right brow, 22-26 left brow (outer to inner, inner to outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # 27-30 nose bridge down to the tip, 31-35 the nostril base
    168, 197, 5, 4, 98, 97, 2, 326, 327,
    # 36-41 right eye, 42-47 left eye (corner, upper lid, corner, lower lid)
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # 48-59 outer lip from the right corner over the upper lip and back along the lower
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # 60-67 inner lip, the same way round
    78, 81, 13, 311, 308, 402, 14, 178,
)


class Tracker(Protocol):
    name: str

    def track(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(points [T, 68, 3] pixels, found [T] bool) for RGB frames [T, H, W, 3]."""


class MediaPipeTracker:
    name = "mediapipe-face-mesh"

    def __init__(self, min_confidence: float = 0.3, refine: bool = False):
        try:
            import mediapipe
        except ImportError:
            raise ToolError("mediapipe is not installed (pip install mediapipe==0.10.21)") from None
        self.face_mesh = mediapipe.solutions.face_mesh
        self.min_confidence = min_confidence
        self.refine = refine  # the attention model's eye and lip contours (eyelids that follow blinks)

    def track(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        height, width = frames.shape[1:3]
        points = np.zeros((len(frames), 68, 3), dtype=np.float32)
        found = np.zeros(len(frames), dtype=bool)
        scale = np.array([width, height, width], dtype=np.float32)
        with self.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=self.refine,
                                     min_detection_confidence=self.min_confidence,
                                     min_tracking_confidence=self.min_confidence) as mesh:
            for i, frame in enumerate(frames):
                result = mesh.process(np.ascontiguousarray(frame))
                if not result.multi_face_landmarks:
                    continue
                marks = result.multi_face_landmarks[0].landmark
                points[i] = [(marks[j].x, marks[j].y, marks[j].z) for j in MESH_TO_IBUG68]
                points[i] *= scale
                found[i] = True
        return points, found


class FaceAlignmentTracker:
    """face-alignment's 3D FAN, only where its weights are already cached (nothing is downloaded)."""

    name = "face-alignment"

    def __init__(self):
        import face_alignment

        self.model = face_alignment.FaceAlignment(face_alignment.LandmarksType.THREE_D, device="cpu")

    @staticmethod
    def weights_present() -> bool:
        try:
            import face_alignment  # noqa: F401
            import torch
        except ImportError:
            return False
        checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
        return checkpoints.is_dir() and any("3DFAN" in p.name or "2DFAN" in p.name for p in checkpoints.iterdir())

    def track(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        points = np.zeros((len(frames), 68, 3), dtype=np.float32)
        found = np.zeros(len(frames), dtype=bool)
        for i, frame in enumerate(frames):
            faces = self.model.get_landmarks_from_image(frame)
            if faces:
                points[i], found[i] = faces[0][:, :3], True
        return points, found


TRACKERS = ("mediapipe", "face-alignment", "auto")


def make_tracker(name: str = "auto") -> Tracker:
    if name == "face-alignment" or (name == "auto" and FaceAlignmentTracker.weights_present()):
        return FaceAlignmentTracker()
    if name in ("mediapipe", "auto"):
        return MediaPipeTracker()
    raise ValueError(f"unknown tracker {name!r}; choose one of {', '.join(TRACKERS)}")


def fill_missing(points: np.ndarray, found: np.ndarray, source) -> np.ndarray:
    """Interpolate frames where no face was found from their neighbours; fail if none had a face."""
    if not found.any():
        raise InputError(source, "no face found in any frame")
    if found.all():
        return points
    frames = np.arange(len(points))
    filled = points.copy()
    flat = points.reshape(len(points), -1)
    for column in range(flat.shape[1]):
        filled.reshape(len(points), -1)[:, column] = np.interp(frames, frames[found], flat[found, column])
    return filled
