"""The face-features network's data: single 96 x 96 frames of faces sets built with `--full-faces`, each with
its identity and the 46 blendshape weights that drew it.

The weights come from the source corpus's labels: a clip `<utterance>-<kind>` of a corpus folder SOURCE
(the manifest's "source") has SOURCE/labels/<utterance>.npz, whose `weights` (T, 46) at `fps` are sampled
at the clip's 25 fps frame times (nearest label row, as the renderer did). Clips without such labels (an
imported video's landmarks-only labels, a set without "source") are skipped and counted.

Items: {"face": (3, 96, 96) in [0, 1], "weights": (46,), "identity": class index, or -1 for an identity
outside the training ones}. Training items may be jittered in colour and shifted a few pixels, afresh
each epoch; other items are fixed and listed in a seeded shuffle, so the first few hundred span the clips.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from backend.errors import InputError
from backend.runtime.sync_expert import FPS

from .corpus.render import frame_weights
from .faces_dataset import CACHE_BYTES, Augment, FacesClip, is_json, jitter, load_frames, read_faces_set
from .families.face_features import UNKNOWN_IDENTITY, WEIGHTS

SIZE = 96
CLIP_KINDS = ("soft", "blender", "video")  # the suffixes `mouthpiece-train faces` gives its clip ids
FULL_FACES_HINT = " (build the faces set with `mouthpiece-train faces --full-faces`)"


@dataclass(frozen=True)
class LabelledClip:
    clip: FacesClip
    weights: np.ndarray
    """float32 (n_frames, 46): the weights each frame was drawn with"""


def utterance_id(clip_id: str) -> str:
    stem, _, kind = clip_id.rpartition("-")
    return stem if stem and kind in CLIP_KINDS else clip_id


def manifest_sources(folder: Path) -> dict[str, str]:
    """clip id -> its corpus folder ("source"), from a faces set's manifest (already checked by read_faces_set)."""
    sources = {}
    for line in (folder / "manifest.jsonl").read_text("utf-8").splitlines():
        if line.strip() and is_json(line):
            record = json.loads(line)
            if isinstance(record, dict) and record.get("source"):
                sources[str(record.get("id"))] = str(record["source"])
    return sources


def clip_label_weights(source: str, clip: FacesClip) -> np.ndarray | None:
    """float32 (n_frames, 46) weights of a clip from its corpus labels, or None where it has none."""
    path = Path(source) / "labels" / f"{utterance_id(clip.id)}.npz"
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as labels:
            weights, fps = np.asarray(labels["weights"], dtype=np.float32), float(labels["fps"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(path, f"unreadable label file ({err})") from None
    if not len(weights):
        return None
    if weights.ndim != 2 or weights.shape[1] != WEIGHTS:
        raise InputError(path, f"weights are {weights.shape}, expected (T, {WEIGHTS})")
    return frame_weights(weights, fps, clip.n_frames / FPS)[:clip.n_frames]


def labelled_clips(folders: Sequence[str | os.PathLike], split: str) -> tuple[list[LabelledClip], int]:
    """(the clips of `split` with label weights, how many of that split had none)."""
    clips, skipped = [], 0
    for folder in folders:
        sources = manifest_sources(Path(folder))
        for clip in read_faces_set(folder):
            if clip.split != split or clip.n_frames == 0:
                continue
            weights = clip_label_weights(sources[clip.id], clip) if clip.id in sources else None
            if weights is None or len(weights) < clip.n_frames:
                skipped += 1
                continue
            clips.append(LabelledClip(clip, weights))
    return clips, skipped


def split_every(clips: list[LabelledClip], every: int) -> tuple[list[LabelledClip], list[LabelledClip]]:
    """(kept, held back): every `every`-th clip in id order held back (0: none)."""
    ordered = sorted(clips, key=lambda c: (str(c.clip.frames), c.clip.id))
    if every <= 0:
        return ordered, []
    return ([c for i, c in enumerate(ordered) if i % every != every - 1],
            [c for i, c in enumerate(ordered) if i % every == every - 1])


def train_identities(clips: list[LabelledClip]) -> tuple[str, ...]:
    return tuple(sorted({str(c.clip.identity) for c in clips}, key=lambda s: (len(s), s)))


class FaceFramesDataset:
    """Items of the module docstring over every frame of `clips`."""

    def __init__(self, clips: list[LabelledClip], identities: Sequence[str], seed: int = 0,
                 augment: Augment | None = None, shuffle: bool = False, cache_bytes: int = CACHE_BYTES):
        self.clips, self.seed, self.augment, self.epoch = clips, seed, augment, 0
        self.classes = {name: index for index, name in enumerate(identities)}
        self.draws = [(position, frame) for position, c in enumerate(clips) for frame in range(c.clip.n_frames)]
        if shuffle:
            order = np.random.default_rng([seed, 7]).permutation(len(self.draws))
            self.draws = [self.draws[i] for i in order]
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self.cache_bytes, self.cached_bytes = cache_bytes, 0

    def __len__(self) -> int:
        return len(self.draws)

    def mean_weights(self):
        """(46,) tensor: the mean weights over every frame."""
        import torch

        return torch.from_numpy(np.concatenate([c.weights for c in self.clips]).mean(axis=0))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def clip_faces(self, position: int) -> np.ndarray:
        if position in self.cache:
            self.cache.move_to_end(position)
            return self.cache[position]
        faces = load_frames(self.clips[position].clip, "face", (SIZE, SIZE), FULL_FACES_HINT)
        self.cache[position] = faces
        self.cached_bytes += faces.nbytes
        while self.cached_bytes > self.cache_bytes and len(self.cache) > 1:
            _, dropped = self.cache.popitem(last=False)
            self.cached_bytes -= dropped.nbytes
        return faces

    def __getitem__(self, index: int) -> dict:
        import torch

        position, frame = self.draws[index]
        labelled = self.clips[position]
        pixels = self.clip_faces(position)[frame:frame + 1].astype(np.float32) / 255.0
        if self.augment is not None:
            pixels = jitter(pixels, self.augment, np.random.default_rng([self.seed, self.epoch, index, 1]))
        identity = self.classes.get(str(labelled.clip.identity), UNKNOWN_IDENTITY)
        return {"face": torch.from_numpy(np.ascontiguousarray(pixels[0].transpose(2, 0, 1))),
                "weights": torch.from_numpy(labelled.weights[frame].copy()),
                "identity": torch.tensor(identity, dtype=torch.long)}
