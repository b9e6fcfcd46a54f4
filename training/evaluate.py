"""`mouthpiece-train eval --data CORPUS`: the CNN+GRU family against the phoneme path and the lazy baseline.

On the corpus's held-out voices (the test split), in the shape of Pham et al.'s Table 1: weight MSE,
lip-landmark RMSE on the default head, temporal smoothness error and self-smoothness. On real speech
(../shared/data/librivox), the sync score of DESIGN §5. Writes Markdown, JSON and PNG plots to --out.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .args import option, parse
from .eval_metrics import (SyncCounts, lip_rmse_mm, read_phones, self_smoothness, sync_counts,
                           temporal_smoothness_error, weight_mse)

REPO = Path(__file__).resolve().parents[1]
LEARNED_ROWS = (("CNN-static", "static"), ("CNN+LSTM", "lstm"), ("CNN+GRU", "gru"))
PHONEMES, LAZY, TRUTH = "Phoneme path (transcript)", "Lazy (closed mouth)", "Ground truth"


@dataclass
class Args:
    data: str = option(help="corpus folder; its test split holds the held-out voices")
    out: str = option("assets/eval", "folder for cnn_gru_eval.md, .json and the plots")
    gru: str = option("runs/cnn-gru/model", "CNN+GRU checkpoint (path without .json)")
    lstm: str = option("runs/cnn-lstm/model", "CNN+LSTM checkpoint")
    static: str = option("runs/cnn-static/model", "CNN-static checkpoint")
    split: str = option("test", "corpus split to evaluate", choices=("train", "val", "test"))
    max_items: int = option(80, "utterances at most, evenly spaced through the split")
    phonemes: bool = option(True, "evaluate the phoneme path too (pocketsphinx alignment with the known text)")
    librivox: str = option(str(REPO.parent / "shared" / "data" / "librivox"), "real-speech clips with phone timings")


@dataclass
class Totals:
    """Frame-weighted sums over utterances, for pooled means."""

    frames: int = 0
    sq_error: float = 0.0
    lip_sq_mm: float = 0.0
    smooth_error: float = 0.0
    self_smooth: float = 0.0
    diffs: int = 0
    utterances: int = 0

    def add(self, predicted: np.ndarray, truth: np.ndarray, head) -> None:
        n, d = len(truth), max(0, len(truth) - 1)
        self.frames += n
        self.diffs += d
        self.utterances += 1
        self.sq_error += weight_mse(predicted, truth) * n
        self.lip_sq_mm += lip_rmse_mm(predicted, truth, head) ** 2 * n
        if d:
            self.smooth_error += temporal_smoothness_error(predicted, truth) * d
            self.self_smooth += self_smoothness(predicted) * d

    def row(self) -> dict:
        frames, diffs = max(1, self.frames), max(1, self.diffs)
        return {"utterances": self.utterances, "frames": self.frames, "weight_mse": self.sq_error / frames,
                "lip_rmse_mm": float(np.sqrt(self.lip_sq_mm / frames)),
                "temporal_smoothness_error": self.smooth_error / diffs, "self_smoothness": self.self_smooth / diffs}


@dataclass
class Predictors:
    """name -> predict(audio, wav path, transcript, n_frames) -> [n_frames, 46] weights at `fps`."""

    fps: float
    by_name: dict[str, Callable] = field(default_factory=dict)
    english_only: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


def fit_length(values: np.ndarray, n_frames: int) -> np.ndarray:
    """Cut or pad (holding the last frame) to n_frames rows."""
    if len(values) >= n_frames:
        return values[:n_frames]
    pad = np.repeat(values[-1:] if len(values) else np.zeros((1, values.shape[1]), np.float32), n_frames - len(values), 0)
    return np.concatenate([values, pad])


def build_predictors(args: Args) -> Predictors:
    from backend.runtime.cnn_gru import CnnGruRuntime

    predictors = Predictors(fps=0.0)
    for name, option_name in LEARNED_ROWS:
        stem = Path(getattr(args, option_name))
        if not stem.with_name(stem.name + ".json").is_file():
            predictors.notes.append(f"{name}: no checkpoint at {stem}.json, row left out")
            continue
        runtime = CnnGruRuntime.from_checkpoint(stem)
        if predictors.fps and runtime.spec.fps != predictors.fps:
            raise ValueError(f"{stem}: model fps {runtime.spec.fps} differs from {predictors.fps}")
        predictors.fps = runtime.spec.fps
        predictors.by_name[name] = _learned(runtime)
    predictors.fps = predictors.fps or 30.0
    if args.phonemes:
        predictors.by_name[PHONEMES] = _phoneme_path(predictors.fps, predictors.notes)
        predictors.english_only.add(PHONEMES)
    predictors.by_name[LAZY] = lambda audio, wav, text, n: np.zeros((n, 46), np.float32)
    return predictors


def _learned(runtime) -> Callable:
    return lambda audio, wav, text, n: fit_length(runtime.predict_audio(audio, 16000), n)


def _phoneme_path(fps: float, notes: list[str]) -> Callable:
    """backend.api.animate_audio with the known text; a clip the aligner fails on scores as a closed
    mouth (counted in the notes), so every row covers the same utterances."""
    from backend.api import AnimateOptions, animate_audio
    from backend.post import PostOptions

    def predict(audio, wav, text, n):
        options = AnimateOptions(model="phonemes", transcript=text or None, fps=fps, post=PostOptions(blinks=False))
        try:
            return fit_length(animate_audio(wav, options).values, n)
        except Exception as err:  # an aligner failure on one clip must not end the evaluation
            notes.append(f"{PHONEMES}: failed on {wav} ({type(err).__name__}: {err}); scored as a closed mouth")
            return np.zeros((n, 46), np.float32)

    return predict


def split_records(args: Args) -> tuple[list[dict], int]:
    """Up to max_items records of the split, evenly spaced, and how many the split holds."""
    from .corpus.manifest import read_manifest

    records = [r for r in read_manifest(args.data, strict=True) if r["split"] == args.split]
    available = len(records)
    if available > args.max_items:
        picks = np.linspace(0, available - 1, args.max_items).round().astype(int)
        records = [records[i] for i in picks]
    return records, available


def evaluate_corpus(args: Args, records: list[dict], predictors: Predictors, head) -> tuple[dict, dict, dict]:
    """Pooled metrics per row: (English utterances, all utterances, one example's curves)."""
    import soundfile
    from tqdm import tqdm

    from backend.features import frame_count

    from .corpus.labels import load_labels
    from .dataset import sample_labels

    root = Path(args.data)
    english: dict[str, Totals] = {}
    everything: dict[str, Totals] = {}
    example: dict = {}
    for record in tqdm(records, desc="held-out voices", unit="utt"):
        audio, _ = soundfile.read(root / record["audio"], dtype="float32", always_2d=False)
        labels = load_labels(root / record["labels"])
        if len(labels["weights"]) == 0:
            continue
        n = frame_count(len(audio), 16000, predictors.fps)
        truth = sample_labels(labels["weights"], float(labels["fps"]), np.arange(n) / predictors.fps)
        is_english = record["language"].startswith("en")
        outputs = {TRUTH: truth}
        for name, predict in predictors.by_name.items():
            if name in predictors.english_only and not is_english:
                continue
            outputs[name] = predict(audio, str(root / record["audio"]), record["text"], n)
        for name, predicted in outputs.items():
            everything.setdefault(name, Totals()).add(predicted, truth, head)
            if is_english:
                english.setdefault(name, Totals()).add(predicted, truth, head)
        if not example and is_english and len(outputs) == len(predictors.by_name) + 1:
            example = {"id": record["id"], "voice": record["voice"], "text": record["text"], "outputs": outputs}
    return ({k: v.row() for k, v in english.items()}, {k: v.row() for k, v in everything.items()}, example)


def evaluate_real_speech(args: Args, predictors: Predictors, head) -> dict:
    """Sync score per row over the real clips, from each clip's reference phone timings."""
    from backend.audio import load_audio
    from backend.headmodel import inner_lip_gap

    clips = sorted(Path(args.librivox).glob("*.wav"))
    totals: dict[str, SyncCounts] = {}
    for wav in clips:
        phones_path = wav.with_suffix(".phone.json")
        text_path = wav.with_suffix(".txt")
        if not phones_path.is_file():
            continue
        audio = load_audio(wav)
        phones = read_phones(phones_path)
        text = text_path.read_text("utf-8").strip() if text_path.is_file() else ""
        n = max(1, int(round(len(audio) / 16000 * predictors.fps)))
        for name, predict in predictors.by_name.items():
            gap = inner_lip_gap(head.landmarks(predict(audio, str(wav), text, n)))
            totals[name] = totals.get(name, SyncCounts()) + sync_counts(gap, predictors.fps, phones)
    return {name: {"clips": len(clips), "bilabials": c.bilabials, "closure_rate": c.closure_rate,
                   "open_vowels": c.vowels, "open_rate": c.open_rate, "sync_score": c.score}
            for name, c in totals.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train eval", __doc__.splitlines()[0])
    from backend import headmodel
    from backend.errors import MouthpieceError

    from .eval_report import write_report

    try:
        head = headmodel.load()
        predictors = build_predictors(args)
        records, available = split_records(args)
        english, everything, example = evaluate_corpus(args, records, predictors, head)
        real = evaluate_real_speech(args, predictors, head)
    except (MouthpieceError, ValueError) as err:
        print(f"mouthpiece-train eval: {err}", file=sys.stderr)
        return 2
    results = {"corpus": str(args.data), "split": args.split, "evaluated": len(records), "available": available,
               "fps": predictors.fps, "notes": predictors.notes,
               "held_out_english": english, "held_out_all": everything, "real_speech": real,
               "checkpoints": {name: getattr(args, key) for name, key in LEARNED_ROWS}}
    write_report(Path(args.out), results, example, head)
    print(json.dumps({"held_out_english": english, "real_speech": real}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
