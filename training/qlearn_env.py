"""The lip environment of the Q-learning family: corpus utterances replayed at 30 fps.

State at frame t: the 300 ms of raw audio ending at frame t's time (zeros before the clip, so it is
causal), normalised per utterance to [-0.5, 0.5] by its peak, plus the agent's lips after frame t-1.
The agent's action at frame t moves its lips (backend.lip_actions); the reward compares the moved
lips with the speaker's at frame t. Targets are the speaker's u, l, c from the corpus labels' 2-D
landmarks (the default head's camera, 512 px), sampled at the frame times.

The baselines of the paper's figures live here too: the lazy agent (neutral lips, never moves), a
uniform-random agent and the greedy one-step oracle (it knows the speaker's next lips).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from backend import headmodel
from backend.errors import InputError
from backend.features import frame_count
from backend.lip_actions import N_ACTIONS, LipSpace, lip_measures, reward
from backend.runtime.qlearn import normalise_audio

from .corpus.labels import load_labels
from .corpus.manifest import read_manifest
from .dataset import sample_labels

SAMPLE_RATE = 16000
LIP_LANDMARKS = list(range(48, 68))


@dataclass
class Utterance:
    id: str
    voice: str
    language: str
    audio: np.ndarray  # normalised samples, `window` zeros in front
    targets: np.ndarray  # (T, 3) speaker u, l, c per frame
    labels_path: Path


def neutral_measures() -> np.ndarray:
    head = headmodel.load()
    return lip_measures(head.project(head.neutral))


class LipEnvironment:
    """Utterances of some corpus split(s), their lip targets, and the lip space they span."""

    def __init__(self, roots: Sequence[str | os.PathLike], split: str, fps: float = 30.0, window: int = 4800,
                 languages: Sequence[str] = (), voices: Sequence[str] = (), max_utterances: int | None = None,
                 space: LipSpace | None = None, step_small: float = 1.5, step_large: float = 5.0):
        self.fps, self.window = float(fps), int(window)
        self.utterances = [self._load(record, Path(root)) for root in roots
                           for record in self._records(Path(root), split, languages, voices)][:max_utterances]
        if not self.utterances:
            raise InputError(Path(roots[0]) / "manifest.jsonl",
                             f"no {split} utterances with 2-D landmarks for languages {list(languages) or 'any'}"
                             f" and voices {list(voices) or 'any'}")
        self.space = space or self._span(step_small, step_large)
        self.lengths = np.array([len(u.targets) for u in self.utterances])

    @staticmethod
    def _records(root: Path, split: str, languages, voices) -> list[dict]:
        return [r for r in read_manifest(root, strict=True) if r["split"] == split
                and (not languages or r["language"] in languages) and (not voices or r["voice"] in voices)]

    def _load(self, record: dict, root: Path) -> Utterance:
        import soundfile

        audio, rate = soundfile.read(root / record["audio"], dtype="float32", always_2d=False)
        if rate != SAMPLE_RATE:
            raise InputError(root / record["audio"], f"sample rate {rate}, expected {SAMPLE_RATE}")
        labels = load_labels(root / record["labels"])
        if "landmarks2d" not in labels or not len(labels["landmarks2d"]):
            raise InputError(root / record["labels"], "has no 2-D landmarks")
        n = frame_count(len(audio), SAMPLE_RATE, self.fps)
        points = sample_labels(labels["landmarks2d"], float(labels["fps"]), np.arange(n) / self.fps)
        padded = np.concatenate([np.zeros(self.window, np.float32), normalise_audio(audio)])
        return Utterance(record["id"], record["voice"], record["language"], padded, lip_measures(points),
                         root / record["labels"])

    def _span(self, small: float, large: float) -> LipSpace:
        measures = self.all_measures()
        neutral = neutral_measures()
        return LipSpace(neutral=neutral, low=np.minimum(measures.min(axis=0), neutral),
                        high=np.maximum(measures.max(axis=0), neutral), small=small, large=large)

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def frames(self) -> int:
        return int(self.lengths.sum())

    def all_measures(self) -> np.ndarray:
        return np.concatenate([u.targets for u in self.utterances])

    def windows(self, utterance_ids: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """(B, window) audio windows ending at each (utterance, frame)."""
        out = np.empty((len(frames), self.window), np.float32)
        for row, (u, f) in enumerate(zip(utterance_ids, frames)):
            end = int(round(f * SAMPLE_RATE / self.fps)) + self.window
            chunk = self.utterances[u].audio[end - self.window:end]
            out[row, :len(chunk)] = chunk
            out[row, len(chunk):] = 0.0
        return out

    def utterance_windows(self, index: int) -> np.ndarray:
        n = len(self.utterances[index].targets)
        return self.windows(np.full(n, index), np.arange(n))

    def fit_lip_map(self, max_utterances: int = 200) -> np.ndarray:
        """(60, 3) least-squares map from a change of (u, l, c) in pixels to the 20 lip landmarks' 3-D
        displacement in metres (iBUG 48-67, x y z), over training frames."""
        neutral3d = headmodel.load().neutral[LIP_LANDMARKS]
        deltas, displacements = [], []
        for utterance in self.utterances[:max_utterances]:
            labels = load_labels(utterance.labels_path)
            times = np.arange(len(utterance.targets)) / self.fps
            lips3d = sample_labels(labels["landmarks3d"][:, LIP_LANDMARKS], float(labels["fps"]), times)
            deltas.append(utterance.targets - self.space.neutral)
            displacements.append((lips3d - neutral3d).reshape(len(times), -1))
        x, y = np.concatenate(deltas), np.concatenate(displacements)
        solution, *_ = np.linalg.lstsq(x.astype(np.float64), y.astype(np.float64), rcond=None)
        return solution.T.astype(np.float32)


# -- baselines and rollouts ----------------------------------------------------------------------------
def lazy_lips(space: LipSpace, targets: np.ndarray) -> np.ndarray:
    return np.repeat(space.neutral[None], len(targets), axis=0)


def rollout(space: LipSpace, actions: np.ndarray) -> np.ndarray:
    """(T, 3) lips after each of a sequence of actions, from the neutral mouth."""
    lips, out = space.neutral, np.empty((len(actions), 3), np.float32)
    for t, action in enumerate(actions):
        lips = space.apply(lips, int(action))
        out[t] = lips
    return out


def random_lips(space: LipSpace, targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rollout(space, rng.integers(0, N_ACTIONS, size=len(targets)))


def greedy_action(space: LipSpace, lips: np.ndarray, target: np.ndarray) -> int:
    return int(np.argmax(reward(space.all_moves(lips), target)))


def greedy_lips(space: LipSpace, targets: np.ndarray) -> np.ndarray:
    lips, out = space.neutral, np.empty_like(targets)
    for t, target in enumerate(targets):
        lips = space.apply(lips, greedy_action(space, lips, target))
        out[t] = lips
    return out


def baseline_lips(name: str, space: LipSpace, targets: np.ndarray, seed: int = 0) -> np.ndarray:
    if name == "lazy":
        return lazy_lips(space, targets)
    if name == "random":
        return random_lips(space, targets, np.random.default_rng(seed))
    if name == "greedy":
        return greedy_lips(space, targets)
    raise ValueError(f"unknown baseline {name!r}")
