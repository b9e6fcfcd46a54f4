"""Pose normalisation of tracked landmarks into speaker-relative displacements on the default head.

As in the Tacotron landmark work: every frame is aligned by a similarity transform (rotation, scale,
translation) on the rigid points (nose, eye corners) to the speaker's mean face, which removes head
pose and distance to the camera; the speaker's mean is subtracted, leaving what the face does
(mostly the mouth); those displacements, rotated and scaled onto the default head, are added to the
head's neutral landmarks. All of a speaker's clips share one mean, so the neutral is the speaker's.
"""
from __future__ import annotations

import numpy as np

RIGID_POINTS = tuple(range(27, 36)) + (36, 39, 42, 45)  # nose bridge and base, eye corners
ALIGN_PASSES = 3


def image_to_world(points: np.ndarray) -> np.ndarray:
    """Tracker pixels (x right, y down, z toward the camera negative) to the head's axes (x to the
    character's left as seen on screen right, y away from the camera, z up)."""
    return np.stack([points[..., 0], points[..., 2], -points[..., 1]], axis=-1)


def similarity(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(scale, rotation, translation) minimising |scale * R @ source + t - target| (Umeyama)."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(b.T @ a)
    sign = np.ones(3)
    sign[-1] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag(sign) @ vt
    scale = float((sigma * sign).sum() / max((a ** 2).sum(), 1e-12))
    return scale, rotation, mu_t - scale * rotation @ mu_s


def apply(points: np.ndarray, transform: tuple[float, np.ndarray, np.ndarray]) -> np.ndarray:
    scale, rotation, translation = transform
    return scale * points @ rotation.T + translation


def align_frames(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    rigid = list(RIGID_POINTS)
    return np.stack([apply(f, similarity(f[rigid], reference[rigid])) for f in frames])


def speaker_relative(clips: list[np.ndarray], head_neutral: np.ndarray) -> list[np.ndarray]:
    """For one speaker's clips of tracked pixels [T, 68, 3]: landmarks [T, 68, 3] on the default head."""
    world = [image_to_world(c.astype(np.float64)) for c in clips]
    reference = np.median(np.concatenate(world), axis=0)
    for _ in range(ALIGN_PASSES):
        aligned = [align_frames(c, reference) for c in world]
        reference = np.concatenate(aligned).mean(axis=0)
    to_head = similarity(reference[list(RIGID_POINTS)], head_neutral[list(RIGID_POINTS)].astype(np.float64))
    scale, rotation, _ = to_head
    return [(head_neutral + scale * (c - reference) @ rotation.T).astype(np.float32) for c in aligned]
