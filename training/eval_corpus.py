"""Corpus-format folders evaluated row by row: metrics pooled over utterances, in all and per language.

Serves the synthetic corpus's held-out voices and imported real speech's held-out speakers alike. Each
row's weights are compared with the labels (weight MSE, lip RMSE, temporal smoothness error,
self-smoothness), and its inner-lip gap is scored against the labels' own phones (the sync score).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .eval_metrics import (SyncCounts, label_phones, lip_rmse_mm, self_smoothness, sync_counts,
                           sync_phone_classes, temporal_smoothness_error, weight_mse)

if TYPE_CHECKING:
    from .evaluate import Predictors

TRUTH = "Ground truth"
SAMPLE_RATE = 16000


def language_group(language: str) -> str:
    """'en-us' -> 'en': utterances are pooled by primary language."""
    return language.lower().replace("_", "-").split("-")[0]


@dataclass(frozen=True)
class Item:
    """One utterance record and the corpus folder it belongs to."""

    root: Path
    record: dict

    @property
    def audio_path(self) -> Path:
        return self.root / self.record["audio"]

    @property
    def language(self) -> str:
        return language_group(self.record["language"])


def select_items(folders: list[str | Path], split: str, max_items: int) -> tuple[list[Item], int]:
    """Up to max_items utterances of `split` over all folders, evenly spaced, and how many there are."""
    from .corpus.manifest import read_manifest

    items = [Item(Path(folder), record) for folder in folders
             for record in read_manifest(folder, strict=True) if record["split"] == split]
    return evenly_spaced(items, max_items), len(items)


def evenly_spaced(items: list, count: int) -> list:
    if len(items) <= count:
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, count).round().astype(int)]


@dataclass
class Totals:
    """Frame-weighted sums over utterances, for pooled means, and the pooled sync counts."""

    frames: int = 0
    sq_error: float = 0.0
    lip_sq_mm: float = 0.0
    smooth_error: float = 0.0
    self_smooth: float = 0.0
    diffs: int = 0
    utterances: int = 0
    sync: SyncCounts = field(default_factory=SyncCounts)
    expert_sum: float = 0.0  # the lip-sync expert's LSE-C at offset 0, summed over scored utterances
    expert_count: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray, head, sync: SyncCounts,
            expert: float | None = None) -> None:
        n, d = len(truth), max(0, len(truth) - 1)
        self.frames += n
        self.diffs += d
        self.utterances += 1
        self.sq_error += weight_mse(predicted, truth) * n
        self.lip_sq_mm += lip_rmse_mm(predicted, truth, head) ** 2 * n
        if d:
            self.smooth_error += temporal_smoothness_error(predicted, truth) * d
            self.self_smooth += self_smoothness(predicted) * d
        self.sync += sync
        if expert is not None:
            self.expert_sum += expert
            self.expert_count += 1

    def row(self) -> dict:
        frames, diffs = max(1, self.frames), max(1, self.diffs)
        return {"utterances": self.utterances, "frames": self.frames, "weight_mse": self.sq_error / frames,
                "lip_rmse_mm": float(np.sqrt(self.lip_sq_mm / frames)),
                "temporal_smoothness_error": self.smooth_error / diffs, "self_smoothness": self.self_smooth / diffs,
                "expert_sync": self.expert_sum / self.expert_count if self.expert_count else None,
                **self.sync.row()}


@dataclass
class Pools:
    """Totals per row name over every utterance, and per language."""

    everything: dict[str, Totals] = field(default_factory=dict)
    by_language: dict[str, dict[str, Totals]] = field(default_factory=dict)

    def add(self, language: str, name: str, predicted: np.ndarray, truth: np.ndarray, head,
            sync: SyncCounts, expert: float | None = None) -> None:
        self.everything.setdefault(name, Totals()).add(predicted, truth, head, sync, expert)
        self.by_language.setdefault(language, {}).setdefault(name, Totals()).add(predicted, truth, head, sync,
                                                                                  expert)

    def rows(self) -> tuple[dict, dict]:
        return ({name: t.row() for name, t in self.everything.items()},
                {language: {name: t.row() for name, t in rows.items()}
                 for language, rows in sorted(self.by_language.items())})


@dataclass
class CorpusResult:
    everything: dict
    by_language: dict
    example: dict
    label_sources: dict[str, int]  # "aligner, transcript" -> utterances (imported real speech only)


@dataclass(frozen=True)
class Reference:
    """What one utterance's rows are measured against."""

    audio: np.ndarray
    truth: np.ndarray
    phones: list[tuple[str, float, float]]
    phone_set: str


def load_reference(item: Item, fps: float) -> Reference | None:
    """The audio, the label weights at `fps` and the label phones; None when the labels hold no weights."""
    import soundfile

    from backend.features import frame_count

    from .corpus.labels import load_labels
    from .dataset import sample_labels

    labels = load_labels(item.root / item.record["labels"])
    if len(labels["weights"]) == 0:
        return None
    audio, _ = soundfile.read(item.audio_path, dtype="float32", always_2d=False)
    n = frame_count(len(audio), SAMPLE_RATE, fps)
    truth = sample_labels(labels["weights"], float(labels["fps"]), np.arange(n) / fps)
    phones, phone_set = label_phones(labels) if "phones" in labels else ([], "arpabet")
    return Reference(audio, truth, phones, phone_set)


def predict_rows(item: Item, reference: Reference, predictors: Predictors) -> dict[str, np.ndarray]:
    """Ground truth and every row that runs on this utterance's language."""
    outputs = {TRUTH: reference.truth}
    for name, predict in predictors.corpus_rows(item.language).items():
        outputs[name] = predict(reference.audio, str(item.audio_path), item.record["text"], len(reference.truth))
    return outputs


def sync_of(weights: np.ndarray, reference: Reference, fps: float, head) -> SyncCounts:
    from backend.headmodel import inner_lip_gap

    gap = inner_lip_gap(head.landmarks(weights))
    return sync_counts(gap, fps, reference.phones, sync_phone_classes(reference.phone_set))


def label_source(record: dict) -> str | None:
    if "aligner" not in record:
        return None
    return f"{record['aligner']}, {record.get('transcript_source', 'unknown')} transcript"


def expert_sync(scorer, weights: np.ndarray, audio: np.ndarray, fps: float) -> float | None:
    """The lip-sync expert's LSE-C at offset 0 for 46 weights at `fps` (None without a scorer)."""
    if scorer is None:
        return None
    from backend.animation import Animation
    from backend.rig import FACEWAREHOUSE_46

    return float(scorer(Animation(fps, list(FACEWAREHOUSE_46), weights), audio)["in_time_confidence"])


def evaluate_items(items: list[Item], predictors: Predictors, head, desc: str, scorer=None) -> CorpusResult:
    """Pooled metrics per row, in all and per language, and one English utterance's curves; with a
    `scorer` (training/eval_sync.py ExpertScorer), the lip-sync expert's score of every row too."""
    from tqdm import tqdm

    pools, example, sources = Pools(), {}, {}
    for item in tqdm(items, desc=desc, unit="utt"):
        reference = load_reference(item, predictors.fps)
        if reference is None:
            continue
        outputs = predict_rows(item, reference, predictors)
        for name, predicted in outputs.items():
            sync = sync_of(predicted, reference, predictors.fps, head)
            expert = expert_sync(scorer, predicted, reference.audio, predictors.fps)
            pools.add(item.language, name, predicted, reference.truth, head, sync, expert)
        source = label_source(item.record)
        if source:
            sources[source] = sources.get(source, 0) + 1
        if not example and item.language == "en":
            example = {"id": item.record["id"], "voice": item.record["voice"], "text": item.record["text"],
                       "outputs": outputs}
    everything, by_language = pools.rows()
    return CorpusResult(everything, by_language, example, dict(sorted(sources.items())))
