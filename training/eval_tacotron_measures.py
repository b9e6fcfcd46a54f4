"""The Tacotron evaluation's measures, on plain arrays: lip error, inner-lip gap, attention monotonicity and
reach, length error, word error rate, the DTW warp from generated to true frames, and the Table I reading
of a run's metrics.csv."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

TABLE1_EPOCH = 50
LENGTH_CAP = 2.5  # generation stops at this many times the true length when the gate never fires
PHONEMES, LAZY, TRUTH = "Phoneme path (espeak-ng)", "Lazy (closed mouth)", "Ground truth (recording)"


def lip_error_per_frame(predicted_mm: np.ndarray, truth_mm: np.ndarray) -> np.ndarray:
    """(T,) mean Euclidean distance over the 20 lip landmarks of (T, 60) displacements, in mm."""
    difference = (predicted_mm - truth_mm).reshape(len(truth_mm), -1, 3)
    return np.linalg.norm(difference, axis=2).mean(axis=1)


def monotonic_steps(alignments: np.ndarray) -> tuple[int, int]:
    """(steps whose attention peak stays or advances, steps compared) of (S, N) attention weights."""
    peaks = np.argmax(alignments, axis=1)
    return int(np.sum(np.diff(peaks) >= 0)), max(0, len(peaks) - 1)


def monotonic_share(alignments: np.ndarray) -> float:
    kept, steps = monotonic_steps(alignments)
    return kept / steps if steps else math.nan


def attention_reach(alignments: np.ndarray) -> float:
    """How far along the text the attention peak ever gets: its furthest character / the last character."""
    n = alignments.shape[1]
    return float(np.argmax(alignments, axis=1).max()) / (n - 1) if n > 1 and len(alignments) else math.nan


def lips_on_face(displacements_mm: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """(T, 68, 3) landmarks in metres: the neutral face with its lips moved by (T, 60) displacements in mm."""
    faces = np.repeat(np.asarray(neutral, np.float64)[None], len(displacements_mm), axis=0)
    faces[:, 48:68] += displacements_mm.reshape(len(displacements_mm), 20, 3) / 1000.0
    return faces


def gap_mm(displacements_mm: np.ndarray, neutral: np.ndarray) -> np.ndarray:
    """(T,) inner-lip gap (landmarks 62 over 66, as DESIGN §5 measures it) in mm."""
    from backend.headmodel import inner_lip_gap

    return inner_lip_gap(lips_on_face(displacements_mm, neutral)) * 1000.0


def length_error_pct(generated_frames: int, true_frames: int) -> float:
    return 100.0 * (generated_frames - true_frames) / true_frames


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words), both texts lower-cased without punctuation, numbers spelled out."""
    from backend.align import word_edit_distance
    from backend.text.normalize import normalize_transcript

    words = normalize_transcript(reference)
    return word_edit_distance(words, normalize_transcript(hypothesis)), len(words)


def word_error_rate(reference: str, hypothesis: str) -> float:
    edits, words = word_errors(reference, hypothesis)
    return edits / words if words else math.nan


def mel_path(true_mel: np.ndarray, generated_mel: np.ndarray) -> np.ndarray:
    """For each true frame, the generated frame DTW matches it with (non-decreasing, first to last): the
    warp `animate --model tacotron --audio` puts the lips through (mel cepstra, c0 left out)."""
    from backend.dtw_align import DtwOptions, warp_path
    from backend.models.tacotron import dtw_features

    return warp_path(dtw_features(true_mel), dtw_features(generated_mel), DtwOptions())


def read_metrics(path: Path) -> list[dict]:
    from .eval_qlearn import read_csv

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no metrics.csv in the run folder")
    return read_csv(path)


def epoch_row(rows: list[dict], epoch: int = TABLE1_EPOCH, steps_per_epoch: float | None = None) -> dict:
    """The first validation after `epoch` completed epochs (else the last one, with a note), and the best.

    With `steps_per_epoch` a row's completed epochs are its step / steps_per_epoch; without, its epoch column
    (the epoch in progress, so a validation on an epoch's last batch counts one epoch late)."""
    validated = [r for r in rows if not math.isnan(r.get("val_loss", math.nan))]
    if not validated:
        raise ValueError("no validation rows")
    done = (lambda r: r["step"] / steps_per_epoch) if steps_per_epoch else (lambda r: r["epoch"])
    reached = [r for r in validated if done(r) >= epoch - 1e-9]
    row = reached[0] if reached else validated[-1]
    best = min(validated, key=lambda r: r["val_loss"])
    note = "" if reached else f"stopped at epoch {done(row):.3g}, before {epoch}"
    return {"val_loss": row["val_loss"], "epoch": round(done(row), 2), "step": int(row["step"]), "note": note,
            "best_val_loss": best["val_loss"], "best_epoch": round(done(best), 2), "best_step": int(best["step"])}


def steps_per_epoch(record: dict) -> float | None:
    """Optimizer steps per epoch of a run (full batches of its training utterances), when its record says."""
    utterances = record.get("about", {}).get("train_utterances")
    batch = record.get("train", {}).get("batch_size")
    steps = utterances // (batch * record.get("world_size", 1)) if utterances and batch else 0
    return float(steps) if steps > 0 else None


def table1_ticks(record: dict) -> dict:
    """Post-net, pre-net and pretrained encoder of a run, from its checkpoint's config."""
    model, train, about = record["model"], record.get("train", {}), record.get("about", {})
    init = bool(train.get("init_from")) or any(str(a).startswith("--init-from") for a in about.get("command", []))
    parts = train.get("init_parts") or []
    pretrained = "encoder" in model.get("freeze", []) or (init and (not parts or "encoder" in parts))
    return {"postnet": bool(model["landmark_postnet"]), "prenet": bool(model["landmark_prenet"]),
            "pretrained": bool(pretrained)}


def summarise(parts: list[dict], lazy_error_mm: float | None) -> dict:
    """Pooled over utterances: lip error per frame, mean gap spread, length errors, monotonic steps, WER."""
    frames = sum(p["frames"] for p in parts)
    row = {"utterances": len(parts), "lip_error_mm": sum(p["lip_error_sum"] for p in parts) / frames,
           "gap_std_mm": float(np.mean([p["gap_std_mm"] for p in parts]))}
    row["vs_lazy"] = row["lip_error_mm"] / lazy_error_mm if lazy_error_mm else math.nan
    if "length_error_pct" in parts[0]:
        errors = [p["length_error_pct"] for p in parts]
        row.update(length_error_pct=float(np.mean(errors)), abs_length_error_pct=float(np.mean(np.abs(errors))))
    if "stopped" in parts[0]:
        row["gate_stopped"] = sum(bool(p["stopped"]) for p in parts)
        for key in ("mel_monotonic", "lip_monotonic"):
            kept, steps = (sum(p[key][i] for p in parts) for i in (0, 1))
            row[key] = kept / steps if steps else math.nan
        for key in ("mel_reach", "lip_reach"):
            row[key] = float(np.mean([p[key] for p in parts]))
    if "words" in parts[0]:
        words = sum(p["words"] for p in parts)
        row["wer"] = sum(p["word_errors"] for p in parts) / words if words else math.nan
    return row


def summary_rows(scores: dict[str, list[dict]]) -> dict[str, dict]:
    lazy = summarise(scores[LAZY], None)["lip_error_mm"]
    return {name: summarise(parts, lazy) for name, parts in scores.items()}
