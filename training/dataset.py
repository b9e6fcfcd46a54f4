"""A PyTorch Dataset over a corpus manifest, with the feature view each model family needs.

Views (all float32 tensors unless noted; T frames at `fps`, F frames at 80 fps):
  "spectrogram"  x (T, 1, 128, 32)  causal log-power spectrogram windows (backend.features), one per frame
                 y (T, 46)          FaceWarehouse-46 weights, the blinks left out (0)
  "raw300"       x (T, 4800)        300 ms of 16 kHz audio centred on each frame (zeros past the ends)
                 y (T, 4, 2)        lip points 48, 54, 62, 66 in image pixels (the head camera's 2D)
                 weights (T, 46)
  "mel80"        x (F, 80)          log-mel, 80 bands 55-7600 Hz, FFT 800, hop 200 (80 fps)
                 y (F, 20, 3)       lip landmarks 48-67 minus the utterance's neutral, in landmark units
  "text"         x (N,) int64       character ids in TEXT_VOCABULARY (0 pads, 1 is unknown)
                 y (F, 20, 3)       as in mel80
  "tacotron"     x (N,) int64       as in text
                 mel (F, 80)        as mel80's x
                 lips (F, 60)       as mel80's y in millimetres, flattened (x, y, z per landmark)
  "nerf_landmarks" x (T, 16, 80)    50 Hz log-mel windows centred on each frame (backend.runtime.nerf_landmarks,
                                    with the settings of the dataset's `model_config` when it is given one)
                 offsets (T, 68, 3) all 68 landmarks minus the utterance's neutral, in millimetres
                 blink (T,)         eyelid closure in [0, 1], the largest within each frame (0 in corpora
                                    built before blinks were added: they read as never blinking)
                 onset (T,)         1 at the frames where a blink's closure reaches 0.5
                 since_blink (T,)   seconds from the last onset before each frame
Labels are stored at 100 fps and interpolated linearly to each view's frame times.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from backend.animation import BLINK_CHANNELS
from backend.errors import InputError
from backend.features import frame_count, spectrogram_windows
from backend.rig import CHANNEL_INDEX
from backend.text.characters import TEXT_VOCABULARY, encode_symbols, encode_text  # noqa: F401 (TEXT_VOCABULARY re-exported)

from .augment import AugmentOptions, augment
from .corpus.labels import blink_labels, load_labels
from .corpus.manifest import SPLIT_NAMES, read_manifest

SAMPLE_RATE = 16000
BLINK_COLUMNS = [CHANNEL_INDEX[name] for name in BLINK_CHANNELS]
VIEWS = ("spectrogram", "raw300", "mel80", "text", "tacotron", "nerf_landmarks")
RAW_WINDOW = 4800  # 300 ms at 16 kHz
LIP_POINTS_2D = (48, 54, 62, 66)  # mouth corners, inner-lip top and bottom centres
LIP_LANDMARKS = tuple(range(48, 68))
MEL_FPS = 80.0
MEL_HOP = 200
MEL_FFT = 800
MEL_BANDS = 80
MEL_FMIN, MEL_FMAX = 55.0, 7600.0


@dataclass(frozen=True)
class Clip:
    audio: np.ndarray
    labels: dict
    label_start_s: float  # time in the stored labels that the clip's sample 0 corresponds to
    time_scale: float  # output time t maps to label time label_start_s + t * time_scale


class CorpusDataset:
    """Utterances of one split of a corpus; `__getitem__` returns a dict of tensors for `view`."""

    def __init__(self, root: str | os.PathLike | Sequence[str | os.PathLike], split: str | None, view: str,
                 fps: float = 30.0, augment: AugmentOptions | None = None, crop_s: float | None = None,
                 seed: int = 0, text_symbols: str = "mouthpiece"):
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
        if split is not None and split not in SPLIT_NAMES:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_NAMES)}")
        self.roots = [Path(r) for r in ([root] if isinstance(root, (str, os.PathLike)) else root)]
        self.root = self.roots[0]
        self.records, self.record_roots = [], []
        for corpus in self.roots:
            chosen = [r for r in read_manifest(corpus, strict=True) if split is None or r["split"] == split]
            self.records += chosen
            self.record_roots += [corpus] * len(chosen)
        if not self.records:
            raise InputError(self.root / "manifest.jsonl", f"no utterances in split {split!r}")
        self.view, self.fps, self.augment_options, self.crop_s = view, float(fps), augment, crop_s
        self.seed, self.epoch, self.text_symbols = seed, 0, text_symbols
        self.draws = crop_draws(self.records, crop_s if view != "text" else None)

    def __len__(self) -> int:
        return len(self.draws)

    def __getitem__(self, index: int) -> dict:
        import torch

        position = self.draws[index]
        record = self.records[position]
        clip = self.load_clip(record, self.item_rng(index), self.record_roots[position])
        arrays = VIEW_BUILDERS[self.view](self, clip, record, self.record_roots[position])
        return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in arrays.items()}

    def keep(self, positions: list[int]) -> None:
        """Keep only the utterances at these positions of `records` (a recipe's own selection), uncropped."""
        self.records = [self.records[i] for i in positions]
        self.record_roots = [self.record_roots[i] for i in positions]
        self.draws = list(range(len(self.records)))

    def set_epoch(self, epoch: int) -> None:
        """Crops and augmentation are drawn afresh each epoch (call before building the epoch's loader)."""
        self.epoch = int(epoch)

    def item_rng(self, index: int) -> np.random.Generator:
        """The random stream of one item in this epoch: a function of (seed, epoch, index) alone, so an
        item looks the same in any worker process and in a run resumed from a checkpoint."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def load_clip(self, record: dict, rng: np.random.Generator, root: Path | None = None) -> Clip:
        import soundfile

        root = self.root if root is None else root
        audio, rate = soundfile.read(root / record["audio"], dtype="float32", always_2d=False)
        if rate != SAMPLE_RATE:
            raise InputError(root / record["audio"], f"sample rate {rate}, expected {SAMPLE_RATE}")
        labels = load_labels(root / record["labels"])
        start_s = 0.0
        if self.crop_s and self.view != "text" and len(audio) > self.crop_s * SAMPLE_RATE:
            first = int(rng.integers(0, len(audio) - int(self.crop_s * SAMPLE_RATE) + 1))
            audio = audio[first:first + int(self.crop_s * SAMPLE_RATE)]
            start_s = first / SAMPLE_RATE
        time_scale = 1.0
        if self.augment_options is not None:
            augmented = augment(audio, SAMPLE_RATE, self.augment_options, rng)
            audio, time_scale = augmented.audio, augmented.time_scale
        return Clip(audio.astype(np.float32), labels, start_s, time_scale)


def crop_draws(records: list[dict], crop_s: float | None) -> list[int]:
    """Record positions, each repeated once per crop its audio holds, so that every second of speech is
    drawn about equally often whatever the lengths of the utterances (a corpus of 1,500 half-second
    digits does not outweigh an hour of sentences)."""
    if not crop_s:
        return list(range(len(records)))
    return [i for i, r in enumerate(records) for _ in range(max(1, int(np.ceil(r["duration_s"] / crop_s - 0.25))))]


def label_times(clip: Clip, n_frames: int, fps: float) -> np.ndarray:
    """Times in the stored labels for the clip's frames 0..n_frames-1 at `fps`."""
    return clip.label_start_s + np.arange(n_frames) / fps * clip.time_scale


def sample_labels(values: np.ndarray, label_fps: float, times: np.ndarray) -> np.ndarray:
    """Linear interpolation of [T, ...] label frames at `times` (held at the ends)."""
    if len(values) == 0:
        raise ValueError("no label frames to sample")
    position = np.clip(times * label_fps, 0, len(values) - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, len(values) - 1)
    frac = (position - low).reshape(-1, *([1] * (values.ndim - 1)))
    return ((1 - frac) * values[low] + frac * values[high]).astype(np.float32)


def spectrogram_view(dataset: CorpusDataset, clip: Clip, record: dict, root: Path) -> dict:
    n = frame_count(len(clip.audio), SAMPLE_RATE, dataset.fps)
    x = spectrogram_windows(clip.audio, SAMPLE_RATE, dataset.fps, n_frames=n)[:, None]
    weights = require_weights(clip.labels, root / record["labels"])
    y = sample_labels(weights, float(clip.labels["fps"]), label_times(clip, n, dataset.fps))
    y[:, BLINK_COLUMNS] = 0.0  # blinks are not in the sound: audio models leave them to the blink layer
    return {"x": x.astype(np.float32), "y": y}


def raw300_view(dataset: CorpusDataset, clip: Clip, record: dict, root: Path) -> dict:
    n = frame_count(len(clip.audio), SAMPLE_RATE, dataset.fps)
    half = RAW_WINDOW // 2
    padded = np.pad(clip.audio, (half, half + RAW_WINDOW))
    centres = np.round(np.arange(n) * SAMPLE_RATE / dataset.fps).astype(np.int64)
    x = padded[centres[:, None] + np.arange(RAW_WINDOW)[None, :]]
    times = label_times(clip, n, dataset.fps)
    fps = float(clip.labels["fps"])
    points = clip.labels["landmarks2d"][:, list(LIP_POINTS_2D)]
    arrays = {"x": x.astype(np.float32), "y": sample_labels(points, fps, times)}
    weights = clip.labels["weights"]
    arrays["weights"] = sample_labels(weights, fps, times) if len(weights) else np.zeros((n, 46), np.float32)
    return arrays


def log_mel(audio: np.ndarray) -> np.ndarray:
    """(F, 80) natural-log mel power, F = 1 + len(audio) // 200 (centred frames at 80 fps)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, n_fft=MEL_FFT, hop_length=MEL_HOP,
                                         win_length=MEL_FFT, n_mels=MEL_BANDS, fmin=MEL_FMIN, fmax=MEL_FMAX)
    return np.log(np.maximum(mel, 1e-5)).T.astype(np.float32)


def lip_displacements(clip: Clip, n_frames: int, fps: float = MEL_FPS) -> np.ndarray:
    """(n_frames, 20, 3) lip landmarks at `fps` minus the utterance's neutral landmarks."""
    landmarks = clip.labels["landmarks3d"]
    neutral = clip.labels["neutral3d"] if "neutral3d" in clip.labels else landmarks[0]
    lips = sample_labels(landmarks[:, list(LIP_LANDMARKS)], float(clip.labels["fps"]),
                         label_times(clip, n_frames, fps))
    return (lips - neutral[list(LIP_LANDMARKS)][None]).astype(np.float32)


def mel80_view(dataset: CorpusDataset, clip: Clip, record: dict, root: Path) -> dict:
    x = log_mel(clip.audio)
    return {"x": x, "y": lip_displacements(clip, len(x))}


def text_view(dataset: CorpusDataset, clip: Clip, record: dict, root: Path) -> dict:
    n = 1 + len(clip.audio) // MEL_HOP
    return {"x": encode_text(record["text"]), "y": lip_displacements(clip, n)}


def require_weights(labels: dict, path: Path) -> np.ndarray:
    weights = labels["weights"]
    if len(weights) == 0:
        raise InputError(path, "this utterance has no blendshape weights (a real-dataset import); "
                               "use a landmark view (raw300, mel80, text)")
    return weights


def tacotron_view(dataset: CorpusDataset, clip: Clip, record: dict, root: Path) -> dict:
    """At the dataset's fps 80 the lips share the mel's frames; at another (86.13 for NVIDIA's 22,050 Hz hop 256
    weights, whose landmark stage needs no mel) they fill the audio's duration at that rate."""
    mel = log_mel(clip.audio)
    n_lips = len(mel) if dataset.fps == MEL_FPS else 1 + int(len(clip.audio) / SAMPLE_RATE * dataset.fps)
    lips_mm = lip_displacements(clip, n_lips, dataset.fps).reshape(n_lips, -1) * 1000.0
    return {"x": encode_symbols(record["text"], dataset.text_symbols), "mel": mel, "lips": lips_mm.astype(np.float32)}


def nerf_landmarks_view(dataset: CorpusDataset, clip: Clip, record: dict, root: Path) -> dict:
    import dataclasses

    from backend.runtime import nerf_landmarks as runtime

    from .corpus.blinks import onset_frames
    from .families.nerf_landmarks import NerfLandmarksConfig

    config = getattr(dataset, "model_config", None) or NerfLandmarksConfig()  # the feature settings to use
    spec = runtime.NerfLandmarksSpec.from_config(dataclasses.asdict(config))
    n = runtime.frame_total(len(clip.audio), dataset.fps)
    times = label_times(clip, n, dataset.fps)
    labels, fps = clip.labels, float(clip.labels["fps"])
    neutral = labels["neutral3d"] if "neutral3d" in labels else labels["landmarks3d"][0]
    offsets = (sample_labels(labels["landmarks3d"], fps, times) - neutral[None]) * 1000.0
    spread = np.linspace(-0.5, 0.5, 5) * clip.time_scale / dataset.fps
    blink = np.max([sample_labels(blink_labels(labels), fps, times + d) for d in spread], axis=0)
    onset = onset_frames(blink)
    return {"x": runtime.mel_windows(clip.audio, spec, n), "offsets": offsets.astype(np.float32), "blink": blink,
            "onset": onset, "since_blink": runtime.since_blink(onset, dataset.fps)}


VIEW_BUILDERS = {"spectrogram": spectrogram_view, "raw300": raw300_view, "mel80": mel80_view, "text": text_view,
                 "tacotron": tacotron_view, "nerf_landmarks": nerf_landmarks_view}


def collate(items: list[dict]) -> dict:
    """Pad every key along its first axis to the batch's longest; `<key>_length` holds the true lengths."""
    import torch

    batch = {}
    for key in items[0]:
        tensors = [item[key] for item in items]
        lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.int64)
        padded = tensors[0].new_zeros((len(tensors), int(lengths.max()), *tensors[0].shape[1:]))
        for i, tensor in enumerate(tensors):
            padded[i, : tensor.shape[0]] = tensor
        batch[key] = padded
        batch[f"{key}_length"] = lengths
    return batch
