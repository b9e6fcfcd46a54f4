"""Real speech collections as users have them on disk, read into one list of `SpeechItem`s.

Layouts: the Mouthpiece real-speech `manifest.tsv`, LJ Speech (`metadata.csv` + `wavs/`), LibriSpeech
(`*.trans.txt` beside the FLAC files), Common Voice (`*.tsv` + `clips/`), and a plain folder of audio files
with same-name `.txt` transcripts (a clip without one is recognised, in English, or skipped).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError

LAYOUTS = ("manifest", "ljspeech", "librispeech", "commonvoice", "folder")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a")
# Common Voice release tables whose clips hold speech; `invalidated` and `reported` are left out.
COMMONVOICE_TABLES = ("validated.tsv", "train.tsv", "dev.tsv", "test.tsv", "other.tsv")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class SpeechItem:
    """One recording and what is known about it."""

    id: str
    audio: Path
    speaker: str
    language: str
    transcript: str = ""
    source: str = ""
    license: str = ""
    seconds: float | None = None


def safe_id(*parts: str) -> str:
    """A file-name-safe, unique-per-parts id such as `librispeech-1272-1272_128104_0000`."""
    return "-".join(_UNSAFE_ID.sub("_", part).strip("_") or "x" for part in parts)


def detect_layout(root: Path) -> str:
    if (root / "manifest.tsv").is_file():
        return "manifest"
    if (root / "metadata.csv").is_file():
        return "ljspeech"
    if any(root.rglob("*.trans.txt")):
        return "librispeech"
    if (root / "clips").is_dir() and any((root / name).is_file() for name in COMMONVOICE_TABLES):
        return "commonvoice"
    return "folder"


def read_layout(root: str | Path, layout: str = "auto", language: str = "en") -> list[SpeechItem]:
    """Every recording under `root`, sorted by id; `language` applies where the layout does not say."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "not a folder")
    layout = detect_layout(root) if layout == "auto" else layout
    if layout not in LAYOUTS:
        raise InputError(root, f"unknown layout {layout!r}; choose one of auto, {', '.join(LAYOUTS)}")
    items = READERS[layout](root, language)
    if not items:
        raise InputError(root, f"no recordings found in the {layout} layout")
    ids = [item.id for item in items]
    if len(set(ids)) != len(ids):
        raise InputError(root, "two recordings map to the same id; rename one of them")
    return sorted(items, key=lambda item: item.id)


def read_manifest_tsv(root: Path, language: str) -> list[SpeechItem]:
    path = root / "manifest.tsv"
    rows = _tsv_rows(path)
    missing = {"path", "speaker", "language", "transcript"} - set(rows[0] if rows else {})
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(sorted(missing))}")
    items = []
    for row in rows:
        source = row.get("source") or Path(row["path"]).parts[0]
        seconds = float(row["seconds"]) if row.get("seconds") else None
        items.append(SpeechItem(id=safe_id(source, row["speaker"], Path(row["path"]).stem),
                                audio=root / row["path"], speaker=row["speaker"],
                                language=row["language"] or language, transcript=row["transcript"].strip(),
                                source=source, license=row.get("license", ""), seconds=seconds))
    return items


def read_ljspeech(root: Path, language: str) -> list[SpeechItem]:
    """`metadata.csv`: `id|raw text|normalized text` per line (normalized preferred), audio `wavs/<id>.wav`."""
    items = []
    for line in (root / "metadata.csv").read_text("utf-8").splitlines():
        fields = line.split("|")
        if len(fields) < 2 or not fields[0].strip():
            continue
        text = (fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]).strip()
        items.append(SpeechItem(id=safe_id("ljspeech", fields[0]), audio=root / "wavs" / f"{fields[0].strip()}.wav",
                                speaker="LJ", language=language, transcript=text, source="ljspeech"))
    return items


def read_librispeech(root: Path, language: str) -> list[SpeechItem]:
    """`SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt`: `UTTERANCE-ID TEXT` per line, audio `UTTERANCE-ID.flac`."""
    items = []
    for table in sorted(root.rglob("*.trans.txt")):
        for line in table.read_text("utf-8").splitlines():
            utterance, _, text = line.strip().partition(" ")
            if not utterance:
                continue
            audio = _first_existing(table.parent, utterance)
            items.append(SpeechItem(id=safe_id("librispeech", utterance), audio=audio,
                                    speaker=utterance.split("-")[0], language=language,
                                    transcript=text.strip().lower(), source="librispeech"))
    return items


def read_commonvoice(root: Path, language: str) -> list[SpeechItem]:
    """Release tables (`validated.tsv`, `train.tsv`, ...) naming clips in `clips/`; a clip listed twice counts once."""
    items: dict[str, SpeechItem] = {}
    for name in COMMONVOICE_TABLES:
        if not (root / name).is_file():
            continue
        for row in _tsv_rows(root / name):
            clip = row.get("path", "").strip()
            if not clip or clip in items:
                continue
            items[clip] = SpeechItem(id=safe_id("commonvoice", Path(clip).stem), audio=root / "clips" / clip,
                                     speaker=(row.get("client_id") or "unknown")[:8],
                                     language=_commonvoice_language(row.get("locale"), language),
                                     transcript=(row.get("sentence") or "").strip(), source="commonvoice",
                                     license="CC0-1.0")
    return list(items.values())


def read_folder(root: Path, language: str) -> list[SpeechItem]:
    """Audio files anywhere below `root`; the speaker is the file's folder, the transcript a same-name .txt."""
    items = []
    for audio in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()):
        text_path = audio.with_suffix(".txt")
        transcript = text_path.read_text("utf-8").strip() if text_path.is_file() else ""
        relative = audio.relative_to(root).with_suffix("")
        speaker = relative.parent.as_posix() if relative.parent != Path(".") else root.name
        items.append(SpeechItem(id=safe_id("folder", *relative.parts), audio=audio, speaker=speaker,
                                language=language, transcript=transcript, source="folder"))
    return items


def _commonvoice_language(locale: str | None, default: str) -> str:
    """Common Voice locales (`en`, `es`, `fa`, `zh-CN`, `pt`) as espeak-ng codes."""
    if not locale:
        return default
    return {"zh-CN": "cmn", "zh-TW": "cmn", "zh-HK": "yue"}.get(locale, locale.split("-")[0].lower())


def _tsv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _first_existing(folder: Path, stem: str) -> Path:
    for suffix in AUDIO_SUFFIXES:
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return folder / f"{stem}.flac"


READERS = {"manifest": read_manifest_tsv, "ljspeech": read_ljspeech, "librispeech": read_librispeech,
           "commonvoice": read_commonvoice, "folder": read_folder}
