"""`mouthpiece-train eval --data CORPUS`: the CNN+GRU family against the phoneme path and the lazy baseline.

On the corpus's held-out voices (the test split), in the shape of Pham et al.'s Table 1: weight MSE,
lip-landmark RMSE on the default head, temporal smoothness error and self-smoothness, also per language.
On imported real speech (--real, held-out speakers), the same against its labels plus the sync score of
DESIGN §5 from each utterance's label phones. On the LibriVox clips (../shared/data/librivox), the sync
score from reference phone timings. Writes Markdown, JSON and PNG plots to --out.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .args import option, parse, split_list
from .eval_corpus import CorpusResult, evaluate_items, expert_sync, language_group, select_items
from .eval_metrics import SyncCounts, read_phones, sync_counts, sync_phone_classes

REPO = Path(__file__).resolve().parents[1]
LEARNED_ROWS = (("CNN-static", "static"), ("CNN+LSTM", "lstm"), ("CNN+GRU", "gru"), ("CNN+GRU (causal)", "causal"))
PHONEMES, RECOGNIZED = "Phoneme path (transcript)", "Phoneme path (recognized)"
LAZY = "Lazy (closed mouth)"


@dataclass
class Args:
    data: str = option(help="corpus folder; its test split holds the held-out voices")
    out: str = option("assets/eval", "folder for cnn_gru_eval.md, .json and the plots")
    gru: str = option("runs/cnn-gru/model", "CNN+GRU checkpoint (path without .json)")
    causal: str = option("runs/cnn-gru-causal/model", "CNN+GRU checkpoint without lookahead")
    lstm: str = option("runs/cnn-lstm/model", "CNN+LSTM checkpoint")
    static: str = option("runs/cnn-static/model", "CNN-static checkpoint")
    split: str = option("test", "corpus split to evaluate", choices=("train", "val", "test"))
    max_items: int = option(80, "utterances at most, evenly spaced through the split")
    real: str = option("", "real-speech corpus folders (mouthpiece-train import-speech), comma separated; "
                           "their --split holds held-out speakers")
    max_real_items: int = option(150, "real-speech utterances at most, evenly spaced through the split")
    phonemes: bool = option(True, "evaluate the phoneme path too (pocketsphinx alignment with the known text)")
    sync_expert: str = option("", "lip-sync expert for the Expert sync column (default: the shipped one; "
                                  "'none' leaves the column out)")
    librivox: str = option(str(REPO.parent / "shared" / "data" / "librivox"), "real-speech clips with phone timings")
    languages_manifest: str = option(str(REPO.parent / "shared" / "data" / "realspeech" / "manifest.tsv"),
                                     "real-speech manifest.tsv whose transcribed non-English clips are scored "
                                     "against the phoneme path's DTW alignment ('' skips them)")


@dataclass
class Predictors:
    """name -> predict(audio, wav path, transcript, n_frames) -> [n_frames, 46] weights at `fps`."""

    fps: float
    by_name: dict[str, Callable] = field(default_factory=dict)
    english_only: set[str] = field(default_factory=set)
    clips_only: set[str] = field(default_factory=set)  # rows run on the LibriVox clips alone
    lookahead_ms: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def corpus_rows(self, language: str) -> dict[str, Callable]:
        """The rows that run on a corpus utterance in `language`."""
        english = language_group(language) == "en"
        return {name: predict for name, predict in self.by_name.items()
                if name not in self.clips_only and (english or name not in self.english_only)}


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
        predictors.lookahead_ms[name] = 1000.0 * runtime.spec.delay_frames / runtime.spec.fps
    predictors.fps = predictors.fps or 30.0
    if args.phonemes:
        predictors.by_name[PHONEMES] = _phoneme_path(predictors.fps, predictors.notes, PHONEMES, use_transcript=True)
        predictors.by_name[RECOGNIZED] = _phoneme_path(predictors.fps, predictors.notes, RECOGNIZED,
                                                       use_transcript=False)
        predictors.english_only |= {PHONEMES, RECOGNIZED}
        predictors.clips_only.add(RECOGNIZED)
    predictors.by_name[LAZY] = lambda audio, wav, text, n: np.zeros((n, 46), np.float32)
    return predictors


def _learned(runtime) -> Callable:
    return lambda audio, wav, text, n: fit_length(runtime.predict_audio(audio, 16000), n)


def _phoneme_path(fps: float, notes: list[str], name: str, use_transcript: bool) -> Callable:
    """backend.api.animate_audio with the known text, or (use_transcript False) with the words it
    recognizes; a clip the aligner fails on scores as a closed mouth (counted in the notes), so every
    row covers the same utterances."""
    from backend.api import AnimateOptions, animate_audio
    from backend.post import PostOptions

    def predict(audio, wav, text, n):
        transcript = (text or None) if use_transcript else None
        options = AnimateOptions(model="phonemes", transcript=transcript, fps=fps, post=PostOptions(blinks=False))
        try:
            return fit_length(animate_audio(wav, options).values, n)
        except Exception as err:  # an aligner failure on one clip must not end the evaluation
            notes.append(f"{name}: failed on {wav} ({type(err).__name__}: {err}); scored as a closed mouth")
            return np.zeros((n, 46), np.float32)

    return predict


def real_folders(args: Args) -> list[str]:
    return list(split_list(args.real))


def expert_scorer(args: Args, notes: list[str]):
    """The lip-sync expert scorer for the Expert sync column, or None (noted) when there is none."""
    from backend.errors import InputError

    from .eval_sync import ExpertScorer

    if args.sync_expert == "none":
        return None
    try:
        return ExpertScorer(args.sync_expert)
    except InputError as err:
        notes.append(f"Expert sync column left out: {err}")
        return None


def evaluate_real_corpora(args: Args, predictors: Predictors, head, scorer=None) -> dict | None:
    """The real-speech corpora's held-out speakers, pooled and per language; None without --real."""
    folders = real_folders(args)
    if not folders:
        return None
    items, available = select_items(folders, args.split, args.max_real_items)
    result = evaluate_items(items, predictors, head, "held-out speakers", scorer)
    return {"folders": folders, "split": args.split, "evaluated": len(items), "available": available,
            "label_sources": result.label_sources, "all": result.everything, "by_language": result.by_language}


def evaluate_librivox(args: Args, predictors: Predictors, head, scorer=None) -> dict:
    """Sync score per row over the LibriVox clips, from each clip's reference phone timings."""
    from backend.audio import load_audio
    from backend.headmodel import inner_lip_gap

    clips = sorted(Path(args.librivox).glob("*.wav"))
    classes = sync_phone_classes("arpabet")
    totals: dict[str, SyncCounts] = {}
    experts: dict[str, list[float]] = {}
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
            weights = predict(audio, str(wav), text, n)
            gap = inner_lip_gap(head.landmarks(weights))
            totals[name] = totals.get(name, SyncCounts()) + sync_counts(gap, predictors.fps, phones, classes)
            score = expert_sync(scorer, weights, audio, predictors.fps)
            if score is not None:
                experts.setdefault(name, []).append(score)
    return {name: {"clips": len(clips), **c.row(),
                   "expert_sync": float(np.mean(experts[name])) if name in experts else None}
            for name, c in totals.items()}


def evaluate_other_languages_of(args: Args, predictors: Predictors, head) -> dict | None:
    """Transcribed non-English real clips, scored against the phoneme path's DTW alignment."""
    from .eval_languages import evaluate_other_languages

    if not args.languages_manifest:
        return None
    rows = {name: predict for name, predict in predictors.by_name.items() if name not in predictors.english_only}
    return evaluate_other_languages(Path(args.languages_manifest), rows, predictors.fps, head)


def model_rows(args: Args, predictors: Predictors) -> dict:
    """Each learned row's checkpoint, lookahead and the name the tables show."""
    return {name: {"checkpoint": getattr(args, key), "lookahead_ms": predictors.lookahead_ms[name],
                   "label": display_name(name, predictors.lookahead_ms[name])}
            for name, key in LEARNED_ROWS if name in predictors.lookahead_ms}


def display_name(name: str, lookahead_ms: float) -> str:
    return f"{name} ({lookahead_ms:.0f} ms lookahead)" if lookahead_ms > 0 else name


def results_of(args: Args, predictors: Predictors, synthetic: CorpusResult, evaluated: int, available: int,
               real: dict | None, librivox: dict) -> dict:
    return {"corpus": str(args.data), "split": args.split, "evaluated": evaluated, "available": available,
            "fps": predictors.fps, "notes": predictors.notes,
            "held_out_english": synthetic.by_language.get("en", {}), "held_out_all": synthetic.everything,
            "held_out_by_language": synthetic.by_language, "real_corpus": real, "real_speech": librivox,
            "librivox": args.librivox, "models": model_rows(args, predictors),
            "checkpoints": {name: getattr(args, key) for name, key in LEARNED_ROWS}}


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train eval", __doc__.splitlines()[0])
    from backend import headmodel
    from backend.errors import MouthpieceError

    from .eval_report import write_report

    try:
        head = headmodel.load()
        predictors = build_predictors(args)
        scorer = expert_scorer(args, predictors.notes)
        items, available = select_items([args.data], args.split, args.max_items)
        synthetic = evaluate_items(items, predictors, head, "held-out voices", scorer)
        real = evaluate_real_corpora(args, predictors, head, scorer)
        librivox = evaluate_librivox(args, predictors, head, scorer)
        other = evaluate_other_languages_of(args, predictors, head)
    except (MouthpieceError, ValueError) as err:
        print(f"mouthpiece-train eval: {err}", file=sys.stderr)
        return 2
    results = results_of(args, predictors, synthetic, len(items), available, real, librivox)
    results["other_languages"] = other
    write_report(Path(args.out), results, synthetic.example, head)
    print(json.dumps({"held_out_english": results["held_out_english"],
                      "real_corpus": real and real["all"], "real_speech": librivox,
                      "other_languages": other and other["all"]}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
