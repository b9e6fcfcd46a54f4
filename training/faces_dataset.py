"""Faces sets, the lip-sync expert's data, and the dataset of 5-frame windows with their mel windows.

A faces set is a folder:
  faces.json       {"format": "mouthpiece.faces", "version": 1, "fps": 25.0, "crop": [48, 96]}
  manifest.jsonl   one clip a line: {"id", "split": "train" | "val" | "test", "voice", "identity",
                   "audio": a mono 16 kHz wav (absolute, or relative to the folder),
                   "frames": "frames/<id>.npz", "n_frames"}
  frames/<id>.npz  `lower`: uint8 (T, 48, 96, 3), the RGB lower half of the 96 x 96 face crop; frame i
                   shows time i / fps

Each item (Wav2Lip's recipe, models-spec §2.2) is one start frame s of a clip whose mel window (80 x 16,
backend/wav2lip_mel.py) lies wholly inside the audio: half the time (a seeded coin) the faces are frames
s..s+4 and the label 1; otherwise they are another window of the same clip, starting at least `gap`
frames away and looking different (a mean change of at least `min_change` grey levels from frames
s..s+4: a still mouth in two pauses shows the same pixels, which is no sync error), and the label 0. A
window with no such negative in its clip stays in sync. The audio is always s's. Training items are drawn afresh each epoch from
(seed, epoch, index) and may be jittered in colour and shifted a few pixels (the 5 frames alike);
validation items are fixed (seed and index only) and listed in a seeded shuffle, so the first few hundred
span the clips. Clips too short for a window and a negative are skipped and counted. GroupedFacesDataset
gives training items of several windows of one clip, each the others' negative.
"""
from __future__ import annotations

import itertools
import json
import os
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from backend import wav2lip_mel
from backend.errors import InputError
from backend.runtime.sync_expert import CROP, FPS, FRAMES

FORMAT = "mouthpiece.faces"
VERSION = 1
SPLITS = ("train", "val", "test")
RECORD_KEYS = ("id", "split", "audio", "frames", "n_frames")
CACHE_BYTES = 1 << 30  # decoded clips kept in memory, least recently used dropped first
MIN_CHANGE = 1.0  # grey levels (0-255), mean over a window: what makes a shifted window a negative
NEGATIVE_TRIES = 16  # random draws before every candidate is checked


@dataclass(frozen=True)
class FacesClip:
    id: str
    split: str
    voice: str
    identity: int | str
    audio: Path
    frames: Path
    n_frames: int
    n_samples: int


@dataclass(frozen=True)
class Augment:
    """Training-time jitter, the same for the 5 frames of an item."""

    gain: float = 0.15
    """brightness scale drawn from 1 +- gain"""
    tint: float = 0.05
    """per-channel scale drawn from 1 +- tint"""
    shift_px: int = 2
    """translation drawn from -shift_px..shift_px on each axis, edges repeated"""


def read_faces_json(folder: Path) -> dict:
    path = folder / "faces.json"
    if not path.is_file():
        raise InputError(folder, "not a faces set (no faces.json)")
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(path, f"not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise InputError(path, f"not a version-{VERSION} {FORMAT} file")
    if float(meta.get("fps", 0)) != FPS:
        raise InputError(path, f"fps {meta.get('fps')}: the expert needs {FPS:g} fps (5 frames = 16 mel columns)")
    if list(meta.get("crop", [])) != list(CROP):
        raise InputError(path, f"crop {meta.get('crop')}: the expert needs {list(CROP)}")
    return meta


def read_faces_set(folder: str | os.PathLike) -> list[FacesClip]:
    """The clips of a faces set, each checked to exist (one InputError naming the file otherwise)."""
    import soundfile

    folder = Path(folder)
    read_faces_json(folder)
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        raise InputError(manifest, "missing")
    clips = []
    text = manifest.read_text("utf-8")
    lines = text.splitlines()
    if lines and not text.endswith("\n") and not is_json(lines[-1]):
        lines.pop()  # a line torn by a killed build, which its resumption writes again
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = parse_record(manifest, number, line)
        audio, frames = folder / record["audio"], folder / record["frames"]
        for path in (audio, frames):
            if not path.is_file():
                raise InputError(path, f"missing (named on line {number} of {manifest})")
        try:
            info = soundfile.info(str(audio))
        except RuntimeError as err:
            raise InputError(audio, f"not a readable audio file ({str(err).splitlines()[0]})") from None
        if info.samplerate != wav2lip_mel.SAMPLE_RATE or info.channels != 1:
            raise InputError(audio, f"{info.channels} channel(s) at {info.samplerate} Hz; expected mono "
                                    f"{wav2lip_mel.SAMPLE_RATE} Hz")
        clips.append(FacesClip(str(record["id"]), record["split"], str(record.get("voice", "")),
                               record.get("identity", 0), audio, frames, int(record["n_frames"]), info.frames))
    return clips


def is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def parse_record(manifest: Path, number: int, line: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise InputError(manifest, f"line {number} is not JSON") from None
    if not isinstance(record, dict):
        raise InputError(manifest, f"line {number} is not a JSON object")
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise InputError(manifest, f"line {number} lacks {missing[0]!r}")
    if record["split"] not in SPLITS:
        raise InputError(manifest, f"line {number}: unknown split {record['split']!r}")
    if not isinstance(record["n_frames"], int) or record["n_frames"] < 0:
        raise InputError(manifest, f"line {number}: n_frames must be a whole number")
    return record


def load_lower(clip: FacesClip) -> np.ndarray:
    return load_frames(clip, "lower", CROP)


def load_frames(clip: FacesClip, name: str, size: tuple[int, int], hint: str = "") -> np.ndarray:
    """uint8 (n_frames, *size, 3): the array `name` of a clip's frames file, checked."""
    if not zipfile.is_zipfile(clip.frames):
        raise InputError(clip.frames, "not a readable frames file (not an .npz archive)")
    try:
        with np.load(clip.frames, allow_pickle=False) as data:
            frames = data[name]
    except KeyError:
        raise InputError(clip.frames, f"holds no {name!r} array{hint}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise InputError(clip.frames, f"not a readable frames file ({err})") from None
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (*size, 3):
        raise InputError(clip.frames, f"{name!r} is {frames.dtype} {frames.shape}, expected uint8 (T, {size[0]}, "
                                      f"{size[1]}, 3)")
    if len(frames) < clip.n_frames:
        raise InputError(clip.frames, f"holds {len(frames)} frames; the manifest says {clip.n_frames}")
    return frames[:clip.n_frames]


def load_mel(clip: FacesClip) -> np.ndarray:
    import soundfile

    try:
        audio, _ = soundfile.read(str(clip.audio), dtype="float32", always_2d=False)
    except RuntimeError as err:
        raise InputError(clip.audio, f"not a readable audio file ({str(err).splitlines()[0]})") from None
    if not np.all(np.isfinite(audio)):
        raise InputError(clip.audio, "holds NaN or infinite samples")
    return wav2lip_mel.log_mel(audio)


def negative_count(start: int, windows: int, gap: int) -> int:
    """How many window starts of `windows` lie at least `gap` frames from `start`."""
    return max(0, start - gap + 1) + max(0, windows - (start + gap))


class FacesDataset:
    """Items {"faces": (15, 48, 96) in [0, 1], "mel": (1, 80, 16), "label": () 1 in sync, 0 not}."""

    def __init__(self, folders: Sequence[str | os.PathLike], split: str, seed: int = 0,
                 augment: Augment | None = None, gap: int = FRAMES, cache_bytes: int = CACHE_BYTES,
                 min_change: float = MIN_CHANGE):
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        self.split, self.seed, self.augment, self.gap, self.epoch = split, seed, augment, gap, 0
        self.min_change = float(min_change)
        self.clips, self.skipped, self.draws = [], 0, []
        for folder in folders:
            for clip in read_faces_set(folder):
                if clip.split != split:
                    continue
                starts = self.usable_starts(clip)
                if not starts:
                    self.skipped += 1
                    continue
                self.draws += [(len(self.clips), s) for s in starts]
                self.clips.append(clip)
        if split != "train":  # fixed items, shuffled once so that the first ones span the clips
            order = np.random.default_rng([seed, 7]).permutation(len(self.draws))
            self.draws = [self.draws[i] for i in order]
        self.cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.cache_bytes, self.cached_bytes = cache_bytes, 0

    def usable_starts(self, clip: FacesClip) -> list[int]:
        """Start frames whose mel window fits the audio and that have a negative window."""
        windows = clip.n_frames - FRAMES + 1
        if windows <= 0:
            return []
        columns = 1 + clip.n_samples // wav2lip_mel.HOP
        fitting = wav2lip_mel.full_windows(columns, windows, FPS)
        return [s for s in range(fitting) if negative_count(s, windows, self.gap) > 0]

    def __len__(self) -> int:
        return len(self.draws)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def item_rng(self, index: int) -> np.random.Generator:
        if self.split == "train":
            return np.random.default_rng([self.seed, self.epoch, index])
        return np.random.default_rng([self.seed, index])

    def clip_arrays(self, position: int) -> tuple[np.ndarray, np.ndarray]:
        """(lower frames, log-mel) of a clip, from the cache or decoded now."""
        if position in self.cache:
            self.cache.move_to_end(position)
            return self.cache[position]
        clip = self.clips[position]
        arrays = (self.load_clip_frames(clip), load_mel(clip))
        self.cache[position] = arrays
        self.cached_bytes += sum(a.nbytes for a in arrays)
        while self.cached_bytes > self.cache_bytes and len(self.cache) > 1:
            _, dropped = self.cache.popitem(last=False)
            self.cached_bytes -= sum(a.nbytes for a in dropped)
        return arrays

    def load_clip_frames(self, clip: FacesClip) -> np.ndarray:
        return load_lower(clip)

    def pair(self, index: int) -> tuple[np.ndarray, np.ndarray, float]:
        """(uint8 (5, 48, 96, 3) faces, (80, 16) mel window, label) of item `index`, before augmentation."""
        position, start = self.draws[index]
        lower, mel = self.clip_arrays(position)
        rng = self.item_rng(index)
        chosen, label = start, 1.0
        if rng.random() >= 0.5:
            negative = self.distinct_negative(lower, start, rng)
            if negative is not None:
                chosen, label = negative, 0.0
        window = wav2lip_mel.windows_at(mel, [wav2lip_mel.window_start(start, FPS)])[0]
        return lower[chosen:chosen + FRAMES], window, label

    def distinct_negative(self, lower: np.ndarray, start: int, rng: np.random.Generator) -> int | None:
        """A window start at least `gap` frames from `start` whose faces differ from its by `min_change`."""
        windows = len(lower) - FRAMES + 1
        count = negative_count(start, windows, self.gap)
        left = max(0, start - self.gap + 1)
        anchor = lower[start:start + FRAMES]

        def differs(candidate: int) -> bool:
            return looks_different(lower[candidate:candidate + FRAMES], anchor, self.min_change)

        def candidates():
            yield from rng.integers(count, size=NEGATIVE_TRIES) if count else ()
            yield from rng.permutation(count)

        for pick in candidates():
            candidate = int(pick) if pick < left else start + self.gap + int(pick) - left
            if differs(candidate):
                return candidate
        return None

    def __getitem__(self, index: int) -> dict:
        import torch

        faces, window, label = self.pair(index)
        stacked = self.network_input(faces, self.jitter_rng(index))
        return {"faces": torch.from_numpy(stacked),
                "mel": torch.from_numpy(window[None].copy()), "label": torch.tensor(label, dtype=torch.float32)}

    def jitter_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index, 1])

    def network_input(self, faces: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """uint8 (5, 48, 96, 3) -> float32 (15, 48, 96) in [0, 1], frame-major RGB channels, jittered when
        the set augments."""
        pixels = faces.astype(np.float32) / 255.0
        if self.augment is not None:
            pixels = jitter(pixels, self.augment, rng)
        return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2).reshape(3 * FRAMES, *CROP))


def looks_different(faces: np.ndarray, other: np.ndarray, min_change: float) -> bool:
    """Whether two uint8 windows differ by a mean of at least `min_change` grey levels (any do at 0)."""
    return min_change <= 0 or np.abs(faces.astype(np.int16) - other.astype(np.int16)).mean() >= min_change


def jitter(pixels: np.ndarray, options: Augment, rng: np.random.Generator) -> np.ndarray:
    """(5, H, W, 3) in [0, 1] -> the same frames in another light and a few pixels aside."""
    scale = (1 + rng.uniform(-options.gain, options.gain)) * (1 + rng.uniform(-options.tint, options.tint, 3))
    pixels = np.clip(pixels * scale.astype(np.float32), 0.0, 1.0)
    if options.shift_px:
        dy, dx = (int(v) for v in rng.integers(-options.shift_px, options.shift_px + 1, 2))
        s = options.shift_px
        padded = np.pad(pixels, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
        height, width = pixels.shape[1:3]
        pixels = padded[:, s - dy:s - dy + height, s - dx:s - dx + width]
    return pixels


class GroupedFacesDataset(FacesDataset):
    """Training items of `group` in-sync windows of one clip, each at least `gap` frames from the others:
    {"faces": (G, 15, 48, 96), "mel": (G, 1, 80, 16), "pair_mask": (G, G)}. Window i's faces against window
    j's audio is an in-sync pair on the diagonal and a shifted negative elsewhere, so each window serves as
    G - 1 negatives for the price of one; pair_mask drops the pairs that do not count (windows a short clip
    could not fill, and negatives that look like their in-sync window, as in FacesDataset)."""

    def __init__(self, folders: Sequence[str | os.PathLike], seed: int = 0, augment: Augment | None = None,
                 gap: int = FRAMES, cache_bytes: int = CACHE_BYTES, min_change: float = MIN_CHANGE,
                 group: int = 4):
        super().__init__(folders, "train", seed, augment, gap, cache_bytes, min_change)
        if group < 2:
            raise ValueError(f"a group needs at least 2 windows, not {group}")
        self.group = int(group)
        self.starts_of = {}
        for position, start in self.draws:
            self.starts_of.setdefault(position, []).append(start)

    def group_starts(self, index: int) -> list[int]:
        """The item's own start, then up to G - 1 more of its clip, in random order, `gap` apart."""
        position, start = self.draws[index]
        chosen = [start]
        for candidate in self.item_rng(index).permutation(self.starts_of[position]):
            if len(chosen) == self.group:
                break
            if all(abs(int(candidate) - other) >= self.gap for other in chosen):
                chosen.append(int(candidate))
        return chosen

    def __getitem__(self, index: int) -> dict:
        import torch

        position, _ = self.draws[index]
        lower, mel = self.clip_arrays(position)
        starts = self.group_starts(index)
        filled = len(starts)
        starts += [starts[0]] * (self.group - filled)
        faces = [lower[s:s + FRAMES] for s in starts]
        windows = wav2lip_mel.windows_at(mel, [wav2lip_mel.window_start(s, FPS) for s in starts])
        mask = np.diag((np.arange(self.group) < filled).astype(np.float32))
        for i, j in itertools.combinations(range(filled), 2):
            mask[i, j] = mask[j, i] = looks_different(faces[i], faces[j], self.min_change)
        rng = self.jitter_rng(index)
        stacked = np.stack([self.network_input(window_faces, rng) for window_faces in faces])
        return {"faces": torch.from_numpy(stacked), "mel": torch.from_numpy(np.ascontiguousarray(windows[:, None])),
                "pair_mask": torch.from_numpy(mask)}
