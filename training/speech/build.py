"""Import real speech into a corpus folder with the synthetic corpus's format, so both mix in one Dataset.

Each recording is decoded, labelled with a phone timeline (training/speech/labelling.py) and turned into
46 weights and 68 landmarks by the synthetic corpus's own label function. Recordings that are already
16 kHz mono FLAC or WAV are referenced where they lie (nothing is copied); others are decoded once into
`audio/`. Work runs on a process pool; each finished recording's labels are written atomically before
its manifest line, so a killed import resumes where it stopped. A recording that fails is named in
`skipped.jsonl` with its reason, and the import goes on.
"""
from __future__ import annotations

import multiprocessing
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from backend.errors import InputError, MouthpieceError

from ..corpus import manifest as mf
from ..corpus.labels import LABEL_FPS, draw_style, make_labels, save_npz
from ..datasets.importer import split_speakers
from .labelling import label_recording
from .layouts import SpeechItem

SAMPLE_RATE = 16000
SKIPPED = "skipped.jsonl"
REPORT = "import_report.json"


@dataclass(frozen=True)
class SpeechImportOptions:
    out: Path
    seed: int = 0
    workers: int = 2
    min_confidence: float = 0.5
    """recognised (untranscribed) recordings whose word confidence is below this are dropped"""
    min_seconds: float = 0.2
    max_seconds: float = 90.0
    languages: tuple[str, ...] = ()
    """import only these espeak-ng language codes; empty means every language"""
    limit: int | None = None
    progress: bool = True


def import_speech(items: list[SpeechItem], options: SpeechImportOptions, origin: str) -> dict:
    """Label `items` into `options.out` (resuming); return a summary with rates and skip reasons."""
    items = [i for i in items if not options.languages or i.language in options.languages][: options.limit]
    if not items:
        raise InputError(origin, "no recordings left to import after the language filter")
    out = Path(options.out)
    check_previous(out, origin)
    out.mkdir(parents=True, exist_ok=True)
    splits = speaker_splits(items, options.seed)
    mf.write_json(out / mf.SPLITS, splits)
    mf.write_json(out / mf.CONFIG, {"format": "mouthpiece.corpus", "version": 1, "source": "speech",
                                    "origin": origin, "label_fps": LABEL_FPS, "sample_rate": SAMPLE_RATE,
                                    "seed": options.seed, "min_confidence": options.min_confidence})
    split_of = {voice: name for name, voices in splits.items() for voice in voices}
    done = {r["id"] for r in mf.repair(out)}
    pending = [i for i in items if i.id not in done]
    started = time.perf_counter()
    imported_s, skipped = run_jobs(out, pending, split_of, options)
    elapsed = time.perf_counter() - started
    records = mf.read_manifest(out)
    mf.rewrite(out, records)
    summary = summarise(records, skipped, len(pending), imported_s, elapsed)
    mf.write_json(out / REPORT, summary)
    return summary


def check_previous(out: Path, origin: str) -> None:
    config = out / mf.CONFIG
    if config.is_file():
        previous = mf.read_json(config)
        if previous.get("source") != "speech" or previous.get("origin") != origin:
            raise InputError(config, f"this folder holds another corpus, not an import of {origin}; "
                                     "choose another --out")


def voice_of(item: SpeechItem) -> str:
    return f"{item.source}:{item.speaker}"


def speaker_splits(items: list[SpeechItem], seed: int) -> dict[str, list[str]]:
    """Speakers, not recordings, go to train/val/test, so validation and test voices are never heard in training."""
    return split_speakers(sorted({voice_of(i) for i in items}), {}, seed)


def run_jobs(out: Path, pending: list[SpeechItem], split_of: dict[str, str],
             options: SpeechImportOptions) -> tuple[float, list[dict]]:
    from tqdm import tqdm

    jobs = [(item, str(out), split_of[voice_of(item)], options) for item in pending]
    imported_s, skipped = 0.0, []
    bar = tqdm(total=len(jobs), unit="clip", desc="import", disable=not options.progress)
    with mf.ManifestAppender(out) as appender, open(out / SKIPPED, "a", encoding="utf-8") as skip_log:
        for result in _results(jobs, options.workers):
            if "skipped" in result:
                skipped.append(result)
                skip_log.write(_json_line(result))
                skip_log.flush()
            else:
                appender.append(result)
                imported_s += result["duration_s"]
            bar.update(1)
            bar.set_postfix(speech_min=f"{imported_s / 60:.1f}", skipped=len(skipped))
    bar.close()
    return imported_s, skipped


def _results(jobs: list, workers: int):
    if workers <= 1 or len(jobs) <= 1:
        yield from map(_import_job, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, maxtasksperchild=200) as pool:
        # Long recordings first, so the pool does not end on one long straggler.
        order = sorted(range(len(jobs)), key=lambda i: -(jobs[i][0].seconds or 0.0))
        yield from pool.imap_unordered(_import_job, [jobs[i] for i in order], chunksize=1)


def _import_job(job: tuple[SpeechItem, str, str, SpeechImportOptions]) -> dict:
    item, out, split, options = job
    try:
        return import_one(item, Path(out), split, options)
    except MouthpieceError as err:
        return skip(item, str(getattr(err, "problem", err)))
    except Exception as err:  # one broken recording must not end an import of thousands
        return skip(item, f"{type(err).__name__}: {err}")


def skip(item: SpeechItem, reason: str) -> dict:
    return {"id": item.id, "audio": str(Path(item.audio).resolve()), "skipped": reason}


def import_one(item: SpeechItem, out: Path, split: str, options: SpeechImportOptions) -> dict:
    from backend.audio import load_audio, require_speech

    audio = load_audio(item.audio, SAMPLE_RATE)
    duration = len(audio) / SAMPLE_RATE
    if not options.min_seconds <= duration <= options.max_seconds:
        return skip(item, f"{duration:.2f} s is outside {options.min_seconds}..{options.max_seconds} s")
    require_speech(audio, SAMPLE_RATE, item.audio)
    labelled = label_recording(audio, SAMPLE_RATE, item.transcript, item.language)
    if labelled.confidence < options.min_confidence:
        return skip(item, f"recognition confidence {labelled.confidence:.2f} is below {options.min_confidence}")
    seed = zlib.crc32(item.id.encode("utf-8")) ^ options.seed
    style = draw_style(np.random.default_rng(seed), seed=seed)
    labels = make_labels(labelled.timeline, duration, style)
    audio_ref = audio_reference(item, audio, out)
    labels_path = Path("labels") / f"{item.id}.npz"
    save_npz(out / labels_path, labels)
    return {"id": item.id, "language": item.language, "voice": voice_of(item), "engine": "real",
            "split": split, "text": labelled.transcript, "duration_s": round(duration, 4),
            "sample_rate": SAMPLE_RATE, "audio": audio_ref, "labels": labels_path.as_posix(), "frames": None,
            "speaker": item.speaker, "source": item.source, "license": item.license,
            "transcript_source": labelled.transcript_source, "aligner": labelled.aligner,
            "confidence": round(labelled.confidence, 4),
            "style": {k: v for k, v in asdict(style).items() if k != "seed"}}


def audio_reference(item: SpeechItem, decoded: np.ndarray, out: Path) -> str:
    """The recording itself when the Dataset can read it as it is (16 kHz mono FLAC/WAV), else a decoded copy."""
    import soundfile

    try:
        info = soundfile.info(str(item.audio))
        readable = info.samplerate == SAMPLE_RATE and info.channels == 1 and info.format in ("FLAC", "WAV")
    except RuntimeError:
        readable = False
    if readable:
        return str(Path(item.audio).resolve())
    from backend.fileio import atomic_path

    path = Path("audio") / f"{item.id}.flac"
    (out / path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / path) as tmp:
        soundfile.write(str(tmp), decoded, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return path.as_posix()


def summarise(records: list[dict], skipped: list[dict], attempted: int, imported_s: float, elapsed: float) -> dict:
    def minutes(rows):
        return round(sum(r["duration_s"] for r in rows) / 60.0, 2)

    by = {}
    for key in ("language", "split", "source", "transcript_source", "aligner"):
        groups: dict[str, list[dict]] = {}
        for record in records:
            groups.setdefault(str(record.get(key)), []).append(record)
        by[key] = {name: {"utterances": len(rows), "minutes": minutes(rows)} for name, rows in sorted(groups.items())}
    return {"utterances": len(records), "minutes": minutes(records), "attempted": attempted,
            "skipped_this_run": len(skipped), "skip_reasons": _reason_counts(skipped),
            "imported_minutes_this_run": round(imported_s / 60.0, 2), "elapsed_s": round(elapsed, 1),
            "speech_s_per_wall_s": round(imported_s / elapsed, 2) if elapsed > 0 else None, "by": by}


def _reason_counts(skipped: list[dict]) -> dict[str, int]:
    """How many recordings each kind of problem skipped (numbers in the reasons blanked out)."""
    import re
    from collections import Counter

    return dict(Counter(re.sub(r"\d+(\.\d+)?", "N", row["skipped"]) for row in skipped).most_common())


def _json_line(row: dict) -> str:
    import json

    return json.dumps(row, ensure_ascii=False) + "\n"
