"""Real speech in other languages: the clips of a real-speech manifest.tsv (../shared/data/realspeech)
that are not English and have a transcript, every split.

The phoneme path aligns each clip's transcript with the DTW aligner (backend/dtw_align.py) and
articulates it; those phone times are the reference for every row's sync score (bilabial closures and
open vowels of the language's phone set). No independent reference timing exists for these clips, so
the phoneme row measures the articulation given its own alignment (the aligner's accuracy is measured
on English, against pocketsphinx, in bench/bench_dtw_align.py); the learned rows do not see the
alignment, so for them the score is a fair comparison.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .eval_metrics import SyncCounts, sync_counts, sync_phone_classes

DTW_PHONEMES = "Phoneme path (DTW alignment)"


def other_language_clips(manifest: Path) -> list:
    from .speech.layouts import read_layout

    if not manifest.is_file():
        return []
    return [item for item in read_layout(manifest.parent, "manifest")
            if item.language.split("-")[0] != "en" and item.transcript.strip()]


def phoneme_reference(item, fps: float):
    """(weights, phones, phone set) of the phoneme path on one clip, or None where alignment fails."""
    from backend.api import AnimateOptions, animate_audio
    from backend.errors import MouthpieceError
    from backend.post import PostOptions
    from backend.text.phonesets import phone_set_for

    options = AnimateOptions(model="phonemes", language=item.language, transcript=item.transcript, fps=fps,
                             post=PostOptions(blinks=False))
    try:
        animation = animate_audio(item.audio, options)
    except MouthpieceError:
        return None
    phones = [(str(label), float(start), float(end)) for label, start, end in animation.meta.get("phones", [])]
    return animation.values, phones, phone_set_for(item.language)


def evaluate_other_languages(manifest: Path, rows: dict[str, Callable], fps: float, head) -> dict | None:
    """Sync counts per row, pooled and per language; None when the manifest has no such clips."""
    from backend.audio import load_audio
    from backend.headmodel import inner_lip_gap

    from .evaluate import fit_length

    clips = other_language_clips(manifest)
    if not clips:
        return None
    pooled: dict[str, SyncCounts] = {}
    by_language: dict[str, dict[str, SyncCounts]] = {}
    used, failed = [], []
    for item in clips:
        reference = phoneme_reference(item, fps)
        if reference is None:
            failed.append(item.id)
            continue
        weights, phones, phone_set = reference
        audio = load_audio(item.audio)
        n = len(weights)
        outputs = {DTW_PHONEMES: weights}
        outputs.update({name: fit_length(predict(audio, str(item.audio), item.transcript, n), n)
                        for name, predict in rows.items()})
        classes = sync_phone_classes(phone_set)
        for name, values in outputs.items():
            counts = sync_counts(inner_lip_gap(head.landmarks(np.asarray(values))), fps, phones, classes)
            pooled[name] = pooled.get(name, SyncCounts()) + counts
            language = by_language.setdefault(item.language, {})
            language[name] = language.get(name, SyncCounts()) + counts
        used.append(item.id)
    return {"manifest": str(manifest), "clips": len(used), "failed": failed,
            "languages": {lang: sum(1 for i in clips if i.language == lang and i.id in used)
                          for lang in sorted({i.language for i in clips})},
            "all": {name: c.row() for name, c in pooled.items()},
            "by_language": {lang: {name: c.row() for name, c in rows_.items()}
                            for lang, rows_ in sorted(by_language.items())}}
