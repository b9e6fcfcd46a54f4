"""The lip-sync generator's data (models-spec §2.1): 5-frame windows of whole 96 x 96 face crops, their mel
windows, K reference frames chosen by KMeans, and the lower-face mask.

A faces set built with `mouthpiece-train faces --full-faces` holds `face` uint8 (T, 96, 96, 3) next to
`lower`. Each item is one start frame s of a clip (s >= 2, so that every frame's centred mel window starts
inside the audio):
  frames  (5, 3, 96, 96)   frames s..s+4 in [0, 1], the targets (their upper halves are the identity input)
  mels    (5, 1, 80, 16)   each frame f's window, starting at frame f - 2 (centred)
  mel     (1, 80, 16)      the window at s, for the lip-sync expert
  refs    (K, 3, 96, 96)   the references: the lower face only, Gaussian-blurred (sigma 1 px)
  mask    (1, 96, 96)      where the generated face may differ from the original (`lower_face_mask`)

References: the clip's frames are clustered into K groups by KMeans on their lower faces downsampled 4x;
each cluster gives its member nearest the centroid that lies outside the target window, so no reference
ever shows a target frame. A cluster with no such member (empty, or a clip with fewer distinct frames)
is filled with an affine-jittered copy (rotation, scale, shift) of a chosen reference.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence

import numpy as np

from backend import wav2lip_mel
from backend.errors import InputError
from backend.runtime.sync_expert import FPS, FRAMES

from .faces_dataset import CACHE_BYTES, FacesClip, FacesDataset, load_frames

SIZE = 96
CENTRE = FRAMES // 2  # the per-frame mel windows start 2 frames early
REFERENCES = 10
FEATURE_STEP = 4  # KMeans features: the lower face sampled every 4th pixel (12 x 24 x 3)
FULL_FACES_HINT = " (build the faces set with `mouthpiece-train faces --full-faces`)"


def lower_face_mask(size: int = SIZE) -> np.ndarray:
    """float32 (size, size), 1 on the lower face.

    The coursework's mask is the convex hull of the lower-chin landmarks and the nose tip, dilated by 11 px.
    The faces sets keep no landmarks, and the face box (jaw and brows, chin padded) puts the nose tip near
    row 46 and the chin near row 90 of every crop, so this is that hull, drawn once: an ellipse under the
    nose spanning the jaw, cut at the nose tip."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) * (SIZE / size)
    inside = ((x - 48.0) / 38.0) ** 2 + ((y - 64.0) / 30.0) ** 2 <= 1.0
    return (inside & (y >= 42.0)).astype(np.float32)


def cluster_frames(faces: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels (T,), distance to its centroid (T,)) of KMeans with k clusters over the clip's lower faces."""
    from scipy.cluster.vq import kmeans2

    features = faces[:, SIZE // 2::FEATURE_STEP, ::FEATURE_STEP].reshape(len(faces), -1).astype(np.float64) / 255
    k = min(k, len(faces))
    with warnings.catch_warnings():  # an empty cluster is expected on still clips; it is filled later
        warnings.simplefilter("ignore")
        centroids, labels = kmeans2(features, k, seed=np.random.default_rng(seed), minit="++", missing="warn")
    return labels, np.linalg.norm(features - centroids[labels], axis=1)


def pick_references(labels: np.ndarray, distance: np.ndarray, k: int, window: range) -> list[int | None]:
    """Each cluster's frame nearest its centroid outside `window`, or None where the cluster has none."""
    picks: list[int | None] = []
    for cluster in range(k):
        members = [int(i) for i in np.flatnonzero(labels == cluster) if int(i) not in window]
        picks.append(min(members, key=lambda i: distance[i]) if members else None)
    return picks


def affine_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 (H, W, 3) turned by up to 5 degrees, scaled by up to 5 % and shifted by up to 3 px."""
    from scipy.ndimage import affine_transform

    angle, scale = np.radians(rng.uniform(-5, 5)), 1 + rng.uniform(-0.05, 0.05)
    matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) / scale
    centre = (np.array(image.shape[:2]) - 1) / 2
    offset = centre - matrix @ centre + rng.uniform(-3, 3, 2)
    full = np.eye(3)
    full[:2, :2] = matrix
    return affine_transform(image.astype(np.float32), full, np.append(offset, 0.0), order=1,
                            mode="nearest").round().clip(0, 255).astype(np.uint8)


def reference_images(faces: np.ndarray, picks: list[int | None], rng: np.random.Generator) -> np.ndarray:
    """uint8 (K, H, W, 3): the picked frames, missing ones filled with jittered copies of picked ones."""
    chosen = [i for i in picks if i is not None]
    if not chosen:
        raise ValueError("no reference frame lies outside the target window")
    return np.stack([faces[i] if i is not None else affine_jitter(faces[chosen[int(rng.integers(len(chosen)))]], rng)
                     for i in picks])


def prepare_references(images: np.ndarray) -> np.ndarray:
    """float32 (K, 3, H, W) in [0, 1]: the lower face only, Gaussian-blurred by 1 px."""
    from scipy.ndimage import gaussian_filter

    pixels = gaussian_filter(images.astype(np.float32) / 255.0, sigma=(0, 1, 1, 0))
    pixels[:, :SIZE // 2] = 0.0
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))


def require_faces(clip: FacesClip) -> None:
    """Fail before training, not at the clip's first draw, when a frames file lacks the whole crops."""
    import zipfile

    try:
        with np.load(clip.frames, allow_pickle=False) as data:
            present = "face" in data.files
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(clip.frames, f"not a readable frames file ({err})") from None
    if not present:
        raise InputError(clip.frames, f"holds no 'face' array{FULL_FACES_HINT}")


class LipsyncFacesDataset(FacesDataset):
    """Generator items (see the module docstring) over the clips of one split of faces sets."""

    def __init__(self, folders: Sequence[str | os.PathLike], split: str, seed: int = 0,
                 references: int = REFERENCES, cache_bytes: int = CACHE_BYTES):
        self.references = references
        super().__init__(folders, split, seed, None, FRAMES, cache_bytes)
        for clip in self.clips:
            require_faces(clip)
        self.clusters: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.mask = lower_face_mask()

    def usable_starts(self, clip: FacesClip) -> list[int]:
        """Starts s >= 2 whose expert window fits the audio, in clips with a frame outside every window."""
        windows = clip.n_frames - FRAMES + 1
        if windows <= 1:
            return []
        fitting = wav2lip_mel.full_windows(1 + clip.n_samples // wav2lip_mel.HOP, windows, FPS)
        return list(range(CENTRE, fitting))

    def load_clip_frames(self, clip: FacesClip) -> np.ndarray:
        return load_frames(clip, "face", (SIZE, SIZE), FULL_FACES_HINT)

    def clip_clusters(self, position: int, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if position not in self.clusters:
            self.clusters[position] = cluster_frames(faces, self.references, self.seed * 7919 + position)
        return self.clusters[position]

    def reference_picks(self, index: int) -> list[int | None]:
        position, start = self.draws[index]
        faces, _ = self.clip_arrays(position)
        labels, distance = self.clip_clusters(position, faces)
        return pick_references(labels, distance, self.references, range(start, start + FRAMES))

    def __getitem__(self, index: int) -> dict:
        import torch

        position, start = self.draws[index]
        faces, mel = self.clip_arrays(position)
        rng = np.random.default_rng([self.seed, index, 11])
        refs = prepare_references(reference_images(faces, self.reference_picks(index), rng))
        frames = faces[start:start + FRAMES].astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        starts = [wav2lip_mel.window_start(f - CENTRE, FPS) for f in range(start, start + FRAMES)]
        mels = wav2lip_mel.windows_at(mel, np.array(starts))[:, None]
        sync = wav2lip_mel.windows_at(mel, np.array([wav2lip_mel.window_start(start, FPS)]))
        return {"frames": torch.from_numpy(np.ascontiguousarray(frames)), "refs": torch.from_numpy(refs),
                "mels": torch.from_numpy(np.ascontiguousarray(mels)), "mel": torch.from_numpy(sync),
                "mask": torch.from_numpy(self.mask[None].copy())}
